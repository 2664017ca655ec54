// Types for the parts of the untyped `smpp` package we use: its PDU codec and
// its command/TLV tables (codec/pdu.ts), and the server and client the simulator
// and tests drive. The gateway's sessions, windows and sockets are ours (session.ts).
declare module 'smpp' {
  export interface PduFields {
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    command_length: number;
    [field: string]: unknown;
  }
  // Declaration merging: the class carries PduFields' members without listing them again.
  export interface PDU extends PduFields {}
  export class PDU {
    constructor(command: string | Buffer, options?: Record<string, unknown>);
    isResponse(): boolean;
    toBuffer(): Buffer;
    static maxLength: number;
  }
  export const commands: Record<string, { id: number; params?: Record<string, { type?: unknown; filter?: unknown }> }>;
  export const commandsById: Record<number, { command: string } | undefined>;
  /** The field codecs; compared by identity to learn a parameter's wire shape. */
  export const types: Record<
    'int8' | 'int16' | 'int32' | 'string' | 'cstring' | 'buffer' | 'dest_address_array' | 'unsuccess_sme_array', unknown
  >;
  export const tlvs: Record<string, { id: number; filter?: unknown }>;
  export function createServer(options: Record<string, unknown>, listener?: (session: unknown) => void): import('node:net').Server;
  export function connect(options: Record<string, unknown>, listener?: () => void): unknown;
}
