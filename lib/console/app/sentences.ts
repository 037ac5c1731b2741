/**
 * The API's error codes (DESIGN.md §4) as sentences a person reads. The code itself is shown small
 * beside it, so a support conversation can still quote it; the server's message is not shown
 * (it is for logs and tools, and the sentence says the same thing plainly).
 */
const SENTENCES: Record<string, string> = {
  TooFast:
    'Too fast: this rule asks approvers to take a minimum time to review a request before approving it. Read it, then try again in a moment.',
  SelfApproval: 'You cannot decide your own request, nor one made on your behalf.',
  NotAnApprover: 'You are not one of the approvers this request’s rule names.',
  AlreadyDecided: 'This request was already decided.',
  TimedOut: 'This request timed out before it was decided.',
  NotApproved: 'This request is not approved.',
  GrantExpired: 'The access this request granted has expired.',
  Revoked: 'This request was revoked.',
  NotFound: 'Nothing here: the request does not exist, or it is not yours to see.',
  Forbidden: 'Your roles do not allow this.',
  Unauthorized: 'Your sign-in is no longer valid. Sign in again.',
  ValidationError: 'The input was refused.',
  RateLimited: 'Too many requests just now. Wait a moment and try again.',
  MethodNotAllowed:
    'This Countersign does not offer this list yet (the server answered "method not allowed"). Open a request by its id instead.',
  FailedClosed: 'Countersign refused, to stay safe: a dependency could not confirm the action.',
  DependencyUnavailable: 'A service Countersign depends on is unavailable. Try again shortly.',
  PayloadTooLarge: 'The input is too large.',
  InternalError: 'Something went wrong on the server.',
  NetworkError: 'Countersign could not be reached.',
};

export function sentenceFor(code: string, details?: Record<string, unknown>): string {
  const min = details?.minReviewSeconds;
  const had = details?.reviewSeconds;
  if (code === 'TooFast' && typeof min === 'number' && typeof had === 'number') {
    return `Too fast: this rule asks approvers to review a request for at least ${min} s before approving it, and you have had it for ${Math.floor(had)} s. Read it, then try again.`;
  }
  return SENTENCES[code] ?? 'The server refused this.';
}
