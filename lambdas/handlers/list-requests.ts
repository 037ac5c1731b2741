import { buildAuthenticator, dynamoClient } from '../adapters/compose.js';
import { DynamoDbReports } from '../adapters/dynamodb-reports.js';
import { authenticatedApi, json, type RouteDeps } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import { type Clock, systemClock } from '../core/ports.js';
import type { ReportReader } from '../core/report-reader.js';
import { listForCaller, listScope, parseCallerListQuery } from '../core/request-list.js';

export interface ListRequestsDeps extends RouteDeps {
  reports: ReportReader;
  clock?: Clock;
}

/** `GET /v1/requests?status=&limit=&cursor=`: the caller's requests, newest first (the approvers' inbox). */
export const createListRequestsHandler = (deps: ListRequestsDeps) =>
  authenticatedApi(deps, async (caller, event) => {
    listScope(caller);
    const query = parseCallerListQuery(event.queryStringParameters, caller);
    return json(200, await listForCaller(deps.reports, caller, query, (deps.clock ?? systemClock).now()));
  });

export const handler = lazyHandler((settings) =>
  createListRequestsHandler({
    reports: new DynamoDbReports(dynamoClient(settings), settings.tableName),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'list-requests' }),
  }),
);
