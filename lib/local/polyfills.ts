/**
 * Node 20 lacks Promise.withResolvers (Node 22 has it); the ASL interpreter used by the local
 * Step Functions relies on it. Lambda runs Node 22+, so this file is only ever loaded locally.
 */
declare global {
  interface PromiseConstructor {
    withResolvers<T>(): {
      promise: Promise<T>;
      resolve: (value: T | PromiseLike<T>) => void;
      reject: (reason?: unknown) => void;
    };
  }
}

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};

// The AWS SDK warns on every local start that it will need Node 22 from 2027; Lambda already runs
// Node 22+, and the local stack on Node 20 is a known, documented combination.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
