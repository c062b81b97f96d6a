// Options objects: an explicit `undefined` means "use the default", as if the field were absent.

/** `defaults` overridden by every field of `options` that is not undefined. */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...defaults, ...defined } as D & O;
}
