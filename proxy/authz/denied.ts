/**
 * A request Cedar refused. The client gets exactly the answer for a name that does not exist
 * (JSON-RPC -32602 "Unknown tool/prompt/resource", same data), so existence is not told; the
 * class only lets the audit trail record the outcome as `denied`.
 * @module
 */
import { ErrorCode } from "../../core/sdk.ts";
import { RpcError } from "../backends/errors.ts";

export class AuthzDeniedError extends RpcError {
  constructor(message: string, data?: unknown) {
    super(ErrorCode.InvalidParams, message, data);
    // The same name as an unknown name's error: nothing about the refusal reaches the client.
    this.name = "RpcError";
  }
}
