// SMPP command_status values we send or act on, and how each is handled: one
// table, so retry policy and the docs cannot drift.

export const CommandStatus = {
  ESME_ROK: 0x00000000,
  ESME_RINVMSGLEN: 0x00000001,
  ESME_RINVCMDLEN: 0x00000002,
  ESME_RINVCMDID: 0x00000003,
  ESME_RINVBNDSTS: 0x00000004,
  ESME_RALYBND: 0x00000005,
  ESME_RSYSERR: 0x00000008,
  ESME_RINVSRCADR: 0x0000000a,
  ESME_RINVDSTADR: 0x0000000b,
  ESME_RBINDFAIL: 0x0000000d,
  ESME_RINVPASWD: 0x0000000e,
  ESME_RINVSYSID: 0x0000000f,
  ESME_RMSGQFUL: 0x00000014,
  ESME_RTHROTTLED: 0x00000058,
  ESME_RX_T_APPN: 0x00000064,
  ESME_RX_P_APPN: 0x00000065,
  ESME_RX_R_APPN: 0x00000066,
  ESME_RMISSINGOPTPARAM: 0x000000c3,
  ESME_RINVOPTPARAMVAL: 0x000000c4,
  ESME_RUNKNOWNERR: 0x000000ff,
} as const;
export type CommandStatusName = keyof typeof CommandStatus;

/** What a submitter does with a submit_sm_resp status. */
export const SubmitDisposition = { ACCEPTED: 'accepted', RETRY: 'retry', THROTTLED: 'throttled', PERMANENT: 'permanent' } as const;
export type SubmitDispositionValue = (typeof SubmitDisposition)[keyof typeof SubmitDisposition];

const RETRYABLE = new Set<number>([CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RX_T_APPN, CommandStatus.ESME_RSYSERR]);

export function submitDisposition(status: number): SubmitDispositionValue {
  if (status === CommandStatus.ESME_ROK) return SubmitDisposition.ACCEPTED;
  if (status === CommandStatus.ESME_RTHROTTLED) return SubmitDisposition.THROTTLED;
  if (RETRYABLE.has(status)) return SubmitDisposition.RETRY;
  return SubmitDisposition.PERMANENT;
}

const NAME_BY_STATUS = new Map<number, string>(Object.entries(CommandStatus).map(([name, value]) => [value, name]));

export function statusName(status: number): string {
  return NAME_BY_STATUS.get(status) ?? `0x${status.toString(16).padStart(8, '0')}`;
}
