/**
 * A Lambda handler whose dependencies are built on the first invocation (reading settings and
 * secrets) and reused while the environment is warm. A failed build is retried on the next call
 * instead of poisoning the environment.
 */
export function lazyHandler<E, R>(build: () => Promise<(event: E) => Promise<R>> | ((event: E) => Promise<R>)) {
  let built: Promise<(event: E) => Promise<R>> | undefined;
  return async (event: E): Promise<R> => {
    built ??= Promise.resolve().then(build);
    let fn: (event: E) => Promise<R>;
    try {
      fn = await built;
    } catch (error) {
      built = undefined;
      throw error;
    }
    return fn(event);
  };
}
