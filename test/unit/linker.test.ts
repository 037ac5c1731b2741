import { describe, expect, it } from 'vitest';
import { CloudTrailLinker } from '../../lambdas/core/linker.js';
import type { AccessRequest, LinkedEvent, MintedSession } from '../../lambdas/core/model.js';
import type { EventStore } from '../../lambdas/core/ports.js';
import { assumeRoleRecord } from '../evidence/support.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

/**
 * The linker's start-up configuration, which the deployed stack fixes (its minting role has no
 * path, and its ARN is always a role ARN) and test/evidence/linker.test.ts therefore cannot vary:
 * the core linker over in-memory ports.
 */
const REQUEST_ID = 'req_AAAAAAAAAAAAAAAAAAAA';
const MINTED = fakeAccessKeyId('MINTEDPATH00001');

function memoryLinker(mintingRoleArns: string[]) {
  const stored: LinkedEvent[] = [];
  const events: EventStore = {
    putEvent: async (event) => {
      if (stored.some((e) => e.eventId === event.eventId)) return 'duplicate';
      stored.push(event);
      return 'stored';
    },
    readActivity: async (requestId) => ({ events: stored.filter((e) => e.requestId === requestId) }),
    // The AKID item the claim wrote when it minted the session.
    findRequestByAccessKey: async (key) => (key === MINTED ? REQUEST_ID : undefined),
  };
  const request = { id: REQUEST_ID, status: 'APPROVED' } as AccessRequest;
  const linker = new CloudTrailLinker({
    events,
    requests: {
      get: async (id) => (id === REQUEST_ID ? request : undefined),
      listSessions: async (): Promise<MintedSession[]> => [],
    },
    mintingRoleArns,
  });
  return { linker, stored };
}

describe('CloudTrailLinker start-up configuration', () => {
  it('links the minting role’s AssumeRole by its session issuer, whatever the role’s path', async () => {
    // Prepare: CloudTrail names the assumed role without its path; the configured ARN carries one
    const { linker, stored } = memoryLinker([
      'arn:aws:iam::111122223333:role/service/countersign-claim-credentials',
    ]);
    const record = assumeRoleRecord({
      requestId: REQUEST_ID,
      mintedAccessKeyId: MINTED,
      sourceIdentity: 'path-bot',
      eventTime: '2025-03-10T09:09:00Z',
    });

    // Act
    const report = await linker.link(record);

    // Assess
    expect(report).toMatchObject({ stored: 1, ignored: 0 });
    expect(stored).toEqual([
      expect.objectContaining({ linkedBy: 'roleSessionName', minting: true, minted: true }),
    ]);
  });

  it('files nothing under the named request when the minting role is another role', async () => {
    const { linker, stored } = memoryLinker(['arn:aws:iam::111122223333:role/service/someone-else']);
    const record = assumeRoleRecord({
      requestId: REQUEST_ID,
      mintedAccessKeyId: MINTED,
      sourceIdentity: 'path-bot',
      eventTime: '2025-03-10T09:09:00Z',
    });

    expect(await linker.link(record)).toMatchObject({ stored: 0, ignored: 1 });
    expect(stored).toEqual([]);
  });

  it('refuses to start with a minting role that is not a role ARN', () => {
    expect(() => memoryLinker(['countersign-claim-credentials'])).toThrow(/not an IAM role ARN/);
  });
});
