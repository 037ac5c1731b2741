import { buildAuthenticator, dynamoClient } from '../adapters/compose.js';
import { DynamoDbReports } from '../adapters/dynamodb-reports.js';
import { apiHandler, header, json } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import { type Clock, systemClock } from '../core/ports.js';
import type { ReportReader } from '../core/reports.js';
import { listForCaller, listScope, parseCallerListQuery } from '../core/request-list.js';

export interface ListRequestsDeps {
  reports: ReportReader;
  authenticator: Pick<JwtAuthenticator, 'authenticate'>;
  logger: Logger;
  clock?: Clock;
}

/** `GET /v1/requests?status=&limit=&cursor=`: the caller's requests, newest first (the approvers' inbox). */
export const createListRequestsHandler = (deps: ListRequestsDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    listScope(caller);
    const query = parseCallerListQuery(event.queryStringParameters, caller);
    return json(200, await listForCaller(deps.reports, caller, query, (deps.clock ?? systemClock).now()));
  });

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createListRequestsHandler({
    reports: new DynamoDbReports(dynamoClient(settings), settings.tableName),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'list-requests' }),
  });
});
