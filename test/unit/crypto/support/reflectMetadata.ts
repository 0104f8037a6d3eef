/**
 * The three `Reflect` metadata calls that tsyringe (a dependency of @peculiar/x509 2.x) checks for at
 * load time. The project does not install `reflect-metadata`, and tests only parse certificates with
 * @peculiar/x509, never resolve its injected services, so a WeakMap-backed stand-in is enough.
 * Import this module before `@peculiar/x509`.
 */
type MetadataTarget = object;

const store = new WeakMap<MetadataTarget, Map<string | symbol | undefined, Map<unknown, unknown>>>();

function table(target: MetadataTarget, property: string | symbol | undefined): Map<unknown, unknown> {
  let byProperty = store.get(target);
  if (byProperty === undefined) store.set(target, (byProperty = new Map()));
  let entries = byProperty.get(property);
  if (entries === undefined) byProperty.set(property, (entries = new Map()));
  return entries;
}

function getOwnMetadata(key: unknown, target: MetadataTarget, property?: string | symbol): unknown {
  return store.get(target)?.get(property)?.get(key);
}

function getMetadata(key: unknown, target: MetadataTarget, property?: string | symbol): unknown {
  for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
    const value = getOwnMetadata(key, t, property);
    if (value !== undefined) return value;
  }
  return undefined;
}

function defineMetadata(key: unknown, value: unknown, target: MetadataTarget, property?: string | symbol): void {
  table(target, property).set(key, value);
}

if (!('getMetadata' in Reflect)) Object.assign(Reflect, { getMetadata, getOwnMetadata, defineMetadata });
