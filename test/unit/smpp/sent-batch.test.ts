// The stored form of a batch of sent records (SMS_SENT): what one replica writes, another reads.
import { expect, it } from 'vitest';
import { decodeSentBatch, encodeSentBatch } from '../../../gateway/smpp/sent-log.js';

it('round-trips a batch of sent records, and refuses what is not one', () => {
  const records = [
    { messageRef: 'm1', operatorId: 'safaricom-ke', smscIds: ['A1', 'A2'] },
    { messageRef: 'référence-ü', operatorId: 'orange-sn', smscIds: [''] },
  ];
  expect(decodeSentBatch(encodeSentBatch(1_700_000_000_000, records))).toEqual({ atMs: 1_700_000_000_000, records });
  expect(decodeSentBatch(Buffer.from('not json'))).toBeNull();
  expect(decodeSentBatch(Buffer.from('{"atMs":1,"records":[["m1","op","A1"]]}'))).toBeNull(); // ids not a list
  expect(decodeSentBatch(Buffer.from('{"records":[]}'))).toBeNull();
  expect(decodeSentBatch(Buffer.from('null'))).toBeNull();
});
