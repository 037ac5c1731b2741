/**
 * Settles a promise that must fail and hands back its error. Capturing the rejection at once (rather
 * than awaiting `expect(p).rejects` later) leaves no rejection unhandled while other calls run.
 */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure, got a success');
    },
    (error: unknown) => error,
  );
}
