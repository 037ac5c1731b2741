import { type Settings, settingsFromEnvironment } from './settings.js';

/**
 * A Lambda handler whose dependencies are built from the function's settings on the first
 * invocation (reading the environment and secrets) and reused while the environment is warm. A
 * failed build is retried on the next call instead of poisoning the environment.
 */
type Fn<E, R> = (event: E, context?: unknown) => Promise<R>;

export function lazyHandler<E, R>(build: (settings: Settings) => Promise<Fn<E, R>> | Fn<E, R>) {
  let built: Promise<Fn<E, R>> | undefined;
  return async (event: E, context?: unknown): Promise<R> => {
    built ??= Promise.resolve().then(() => build(settingsFromEnvironment()));
    let fn: Fn<E, R>;
    try {
      fn = await built;
    } catch (error) {
      built = undefined;
      throw error;
    }
    return fn(event, context);
  };
}
