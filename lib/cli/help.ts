/**
 * Help texts. Kept beside each other (and mirrored in docs/cli.md) so flags, environment variables
 * and exit codes are described once per command, with examples an agent can copy.
 */

const CONNECTION = `Connection:
  --endpoint URL     API base URL (default: $COUNTERSIGN_ENDPOINT, else http://127.0.0.1:8787).
                     Plain http is refused except to this machine.
  --token JWT        bearer token (default: $COUNTERSIGN_TOKEN, else the file named by
                     $COUNTERSIGN_TOKEN_FILE, re-read before every call so rotated OIDC tokens work).
                     Prefer the variables: a --token value is visible to other local users in ps.`;

const EXIT_CODES = `Exit codes:
  0    success; for request/exec/status --wait: APPROVED (or PENDING without --wait)
  1    the service refused or failed (its error code and message are printed)
  2    bad arguments or a bad configuration file
  3    the endpoint could not be reached
  4    no token, or 401 Unauthorized
  10   DENIED
  11   TIMED_OUT (no decision before the approval timeout)
  12   REVOKED
  13   EXPIRED (the grant's end time has passed)
  14   still PENDING when --timeout ran out (the request stays open)
  130  interrupted while waiting (the request stays open)
  exec only: once the command runs, its own exit code; 126 cannot run it, 127 not found`;

export const MAIN_HELP = `countersign — ask for one AWS action on one resource, wait for a human decision, use the grant.

Usage: countersign <command> [flags]

Commands:
  request             ask for access (optionally --wait for the decision)
  credential-process  print credentials for an approved request (AWS credential_process)
  exec                request, wait, then run a command with the granted session
  status              show a request
  revoke              give access back, or take it away
  decide              approve or deny a request (approvers)
  token               get a token from the local stack's issuer (local mode)
  slack-click         click Approve/Deny on a request's Slack message, signed (local mode)
  local               run the whole system on this machine (what npm start runs)
  mcp                 serve the Model Context Protocol on stdio, for AI agents (docs/mcp.md)

Run countersign <command> --help for its flags and examples.

Examples:
  countersign request --resource arn:aws:dynamodb:us-east-1:111122223333:table/orders \\
    --action dynamodb:PutItem --reason "Backfill order 8812 (INC-2291)" --wait
  countersign exec --resource arn:aws:s3:::acme-reports/2024-05.csv --action s3:GetObject \\
    --reason "Monthly report" -- aws s3 cp s3://acme-reports/2024-05.csv .

Environment:
  COUNTERSIGN_ENDPOINT, COUNTERSIGN_TOKEN, COUNTERSIGN_TOKEN_FILE (see any command's --help)

${EXIT_CODES}
`;

const REQUEST_FLAGS = `  --resource ARN         the one resource, a full ARN without wildcards (required)
  --action ACTION        an exact IAM action such as dynamodb:PutItem; repeat for more, up to 10 (required)
  --reason TEXT          why, now: shown to approvers and kept in the record (required)
  --duration SECONDS     how long the grant lasts once approved (60–43200; the rule may cap it)
  --context KEY=VALUE    task, runId, toolCallId, model or onBehalfOf; repeatable
  --idempotency-key KEY  reuse a key to get the same request back instead of a new one. Without it a
                         fresh key is generated for each invocation, so the CLI retries the POST
                         safely on connection errors and 5xx, and running the command again asks again.
  --timeout SECONDS      stop waiting after this long (exit 14); the request stays open`;

export const COMMAND_HELP: Record<string, string> = {
  request: `Usage: countersign request --resource ARN --action ACTION [--action …] --reason TEXT [flags]

Asks for access (POST /v1/requests) and prints the request: the first line is "<id> <STATUS>".
The policy answers at once with APPROVED or DENIED, or PENDING while humans decide. With --wait,
the CLI long-polls until the request is decided, narrating on stderr: the rule and quorum it waits
for, one line (or, on a terminal, one dot) per poll, and each approval as it arrives.

Flags:
${REQUEST_FLAGS}
  --wait                 wait for the decision; exit 0 on APPROVED, 10–13 otherwise
  --json                 print the request object as JSON instead

${CONNECTION}

Examples:
  countersign request --resource arn:aws:dynamodb:us-east-1:111122223333:table/orders \\
    --action dynamodb:PutItem --reason "Backfill order 8812 (INC-2291)" \\
    --context task=INC-2291 --context runId=run-77 --wait --timeout 900
  id=$(countersign request --resource … --action … --reason … | awk 'NR==1{print $1}')

${EXIT_CODES}
`,

  'credential-process': `Usage: countersign credential-process --request ID

Mints a session for an approved request (POST /v1/requests/{id}/credentials) and prints exactly the
AWS credential_process JSON on stdout — nothing else, ever. Errors go to stderr with a non-zero exit.
Each call mints a new session (all of them recorded); the AWS CLI/SDK calls it again near expiry.

Flags:
  --request ID           the approved request (required)

${CONNECTION}

Example (~/.aws/config):
  [profile orders-backfill]
  credential_process = countersign credential-process --request req_01J2ABCDEF

  aws --profile orders-backfill dynamodb put-item --table-name orders --item file://item.json

${EXIT_CODES}
`,

  exec: `Usage: countersign exec --resource ARN --action ACTION --reason TEXT [flags] -- COMMAND [ARGS…]

Requests access, waits for the decision, mints a session and runs COMMAND with AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION in its environment, and
AWS_REGION and AWS_DEFAULT_REGION (AWS CLI v1 reads only the latter): the one already set, else the
ARN's region. COMMAND must be on PATH (or a path to an executable): it is checked before anything
is requested. AWS_PROFILE, AWS_DEFAULT_PROFILE and
COUNTERSIGN_TOKEN are removed from it. The command inherits stdin/stdout/stderr; the credentials
are never printed. Progress goes to stderr. The exit code is the command's own.

Flags:
${REQUEST_FLAGS}

${CONNECTION}

Example:
  countersign exec --resource arn:aws:dynamodb:us-east-1:111122223333:table/orders \\
    --action dynamodb:PutItem --reason "Backfill order 8812 (INC-2291)" --duration 900 \\
    -- aws dynamodb put-item --table-name orders --item file://item.json

${EXIT_CODES}
`,

  status: `Usage: countersign status --request ID [--wait [--timeout SECONDS]] [--json]

Shows a request as it is now (GET /v1/requests/{id}). Exits 0 whatever its status. With --wait,
resumes waiting on a request that is still PENDING (after Ctrl-C, or a --timeout that ran out) and
exits as request --wait does.

Flags:
  --request ID           the request (required)
  --wait                 wait until the request is decided (progress on stderr)
  --timeout SECONDS      with --wait: stop waiting after this long (exit 14; the request stays open)
  --json                 print the request object as JSON

${CONNECTION}

Examples:
  countersign status --request req_01J2ABCDEF
  countersign status --request req_01J2ABCDEF --wait --timeout 600

${EXIT_CODES}
`,

  revoke: `Usage: countersign revoke --request ID [--json]

Ends a request's access now (POST /v1/requests/{id}/revoke): the requester giving it back, or an
approver or auditor taking it away. Sessions already minted stop working.

Flags:
  --request ID           the request (required)
  --json                 print the request object as JSON

${CONNECTION}

Example:
  countersign revoke --request req_01J2ABCDEF
`,

  decide: `Usage: countersign decide --request ID (--approve | --deny) [--comment TEXT] [--json]

Records an approver's decision through the API (POST /v1/requests/{id}/decisions, channel "api").
Only approvers the matching rule names may decide, never the requester.

Flags:
  --request ID           the request (required)
  --approve | --deny     the decision (exactly one)
  --comment TEXT         kept in the record and shown to the requester
  --json                 print the request object as JSON

${CONNECTION}

Example:
  countersign decide --request req_01J2ABCDEF --approve --comment "ok, INC-2291 is real"
`,

  'slack-click': `Usage: countersign slack-click --request ID --user SLACK_USER_ID [--deny] [--config FILE]

Local mode only: clicks Approve (or Deny) on a request's Slack message as that Slack user would: a
block_actions payload signed with the local signing secret (SLACK_SIGNING_SECRET, else the
configuration's local.slackSigningSecret), posted to /v1/slack/interactions. The user is mapped to an
approver through slack.users, and every rule of a real click applies (self-approval, TooFast, quorum).

Example:
  countersign slack-click --request req_01J... --user U0ALICE`,
  token: `Usage: countersign token --sub NAME --group GROUP [--group …]

Local mode only: asks the local stack's embedded issuer for a token (POST /local/token, no
authentication) and prints it alone on stdout.

Flags:
  --sub NAME             the identity (JWT sub), e.g. deploy-bot or alice@example.com (required)
  --group GROUP          a group, e.g. agents, approvers or auditors; repeatable (required)
  --endpoint URL         the local stack (default: $COUNTERSIGN_ENDPOINT, else http://127.0.0.1:8787)

Examples:
  export COUNTERSIGN_TOKEN=$(countersign token --sub deploy-bot --group agents)
  countersign token --sub alice@example.com --group approvers > ~/.countersign-alice
`,

  mcp: `Usage: countersign mcp [--endpoint URL] [--token TOKEN]

A Model Context Protocol server on stdin/stdout for AI agents (see docs/mcp.md). Tools:
request_access, get_request, list_requests, call_aws, execute_call, give_back. The token is read
on every tool call, so a rotated COUNTERSIGN_TOKEN_FILE is picked up; refusals are tool errors
carrying the API's error code.
${CONNECTION}

Example (an MCP client's server entry):
  {"command": "countersign", "args": ["mcp"], "env": {"COUNTERSIGN_TOKEN_FILE": "/run/agent/token"}}
`,
};
