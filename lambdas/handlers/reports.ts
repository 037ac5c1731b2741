import { buildAuthenticator, dynamoClient, optionalMac } from '../adapters/compose.js';
import { DynamoDbReports } from '../adapters/dynamodb-reports.js';
import { type ApiEvent, type ApiResult, apiHandler, header, json } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import type { Settings } from '../adapters/settings.js';
import { accessReviewCsv, buildAccessReview, parseReviewQuery } from '../core/access-review.js';
import { NotFoundError } from '../core/errors.js';
import { parseEvidenceQuery } from '../core/evidence-pages.js';
import { REQUEST_ID } from '../core/ids.js';
import type { Caller } from '../core/model.js';
import { type Clock, type Mac, systemClock } from '../core/ports.js';
import type { ReportReader } from '../core/report-reader.js';
import {
  listEvidence,
  MAX_REVIEW_REQUESTS,
  parseListQuery,
  readEvidenceRecord,
  requireAuditor,
} from '../core/reports.js';

export interface ReportsDeps {
  reports: ReportReader;
  authenticator: { authenticate(authorization: string | undefined): Promise<Caller> };
  logger: Logger;
  /** The deployment's JWT issuer: `?agent=<sub>` names an agent under it. */
  issuer: string;
  clock?: Clock;
  /** The history key: when set, the evidence record's integrity is the keyed verdict. @default unkeyed */
  mac?: Mac;
}

const ROUTES = {
  list: '/v1/reports/requests',
  record: '/v1/reports/requests/{id}',
  review: '/v1/reports/access-review',
} as const;

/**
 * Which report: API Gateway's route template (`event.resource`) when it is one of ours, else the
 * path (the local server, or a proxy resource). Returns the request id for the record route.
 */
function route(event: ApiEvent): { name: keyof typeof ROUTES; id?: string } {
  if (event.httpMethod !== 'GET') throw new NotFoundError('No such report.');
  const resource = event.resource;
  if (resource === ROUTES.list) return { name: 'list' };
  if (resource === ROUTES.review) return { name: 'review' };
  if (resource === ROUTES.record) return { name: 'record', id: event.pathParameters?.id ?? '' };
  const path = event.path.replace(/\/+$/, '');
  if (path === ROUTES.list) return { name: 'list' };
  if (path === ROUTES.review) return { name: 'review' };
  const match = /^\/v1\/reports\/requests\/([^/]+)$/.exec(path);
  // A request id needs no decoding; anything encoded is simply not a request id.
  if (match) return { name: 'record', id: match[1]! };
  throw new NotFoundError('No such report.');
}

/** Wants CSV when the client's Accept names `text/csv` (the access review only). */
const wantsCsv = (event: ApiEvent) => /(^|,)\s*text\/csv\s*(;|,|$)/i.test(header(event, 'accept') ?? '');

function csv(body: string, filename: string): ApiResult {
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
    body,
  };
}

/**
 * The reports API, one Lambda for three routes (DESIGN.md §4, Reports); auditors only:
 * - `GET /v1/reports/requests?agent=&status=&from=&to=&limit=&cursor=` → `{items, nextCursor}`
 * - `GET /v1/reports/requests/{id}?limit=&cursor=` → the evidence record, its sessions and events a
 *   page at a time (`nextCursor`); totals, findings and integrity always over all of them
 * - `GET /v1/reports/access-review?from=&to=&resource=&view=` → per agent and per approver, JSON or
 *   CSV (`Accept: text/csv`; `view=approvers` for the approvers' table)
 */
export const createReportsHandler = (deps: ReportsDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    requireAuditor(caller);
    const now = (deps.clock ?? systemClock).now();
    const which = route(event);
    switch (which.name) {
      case 'list': {
        const query = parseListQuery(event.queryStringParameters, now, deps.issuer);
        return json(200, await listEvidence(deps.reports, query, now));
      }
      case 'record': {
        const id = which.id ?? '';
        if (!REQUEST_ID.test(id)) throw new NotFoundError('No such request.');
        const query = parseEvidenceQuery(event.queryStringParameters, id);
        const record = await readEvidenceRecord(deps.reports.evidenceItems(id), query, now, deps.mac);
        if (!record) throw new NotFoundError(`No request ${id}.`);
        return json(200, record);
      }
      case 'review': {
        const query = parseReviewQuery(event.queryStringParameters, now);
        const review = buildAccessReview(
          await deps.reports.reviewRows(query.from, query.to, MAX_REVIEW_REQUESTS),
          query,
          now,
        );
        if (wantsCsv(event)) {
          return csv(
            accessReviewCsv(review, query.view),
            `access-review-${query.view}-${query.from.slice(0, 10)}-${query.to.slice(0, 10)}.csv`,
          );
        }
        return json(200, review);
      }
    }
  });

/** The reports' reader on the table of `settings`. */
export const buildReports = (settings: Settings) =>
  new DynamoDbReports(dynamoClient(settings), settings.tableName);

export const handler = lazyHandler((settings) =>
  createReportsHandler({
    reports: buildReports(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'reports' }),
    issuer: settings.jwt.issuer,
    ...optionalMac(settings),
  }),
);
