/**
 * Framing (frame.ts) and the message-type registry (message-types.ts): round trips, strict
 * decoding with one error code per defect, and the per-protocol ranges.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FRAME_VERSION, decodeFrame, encodeFrame } from "../../src/net/frame.js";
import {
  CONTROL_MESSAGES,
  MESSAGE_TYPE_RANGES,
  isApplicationType,
  isControlType,
  messageType,
  protocolOfType,
  type ApplicationProtocol,
} from "../../src/net/message-types.js";

describe("frame codec", () => {
  it("round-trips every assigned type with random payloads and instances, header first", () => {
    for (let type = 0; type < 256; type++) {
      if (!isApplicationType(type) && !isControlType(type)) continue;
      const payload = randomBytes(type * 7);
      // Control frames carry the zero instance; application frames any u32 pair, extremes included.
      const route = isControlType(type) ? { shard: 0, epoch: 0 } : { shard: type % 3 === 0 ? 0xffff_ffff : type * 1001, epoch: type % 2 === 0 ? 0x8000_0001 : type };
      const frame = encodeFrame(type, payload, undefined, route);
      assert.equal(frame.length, FRAME_HEADER_BYTES + payload.length);
      assert.equal(frame[0], FRAME_VERSION);
      assert.equal(frame[1], type);
      const view = new DataView(frame.buffer);
      assert.equal(view.getUint32(2, true), route.shard);
      assert.equal(view.getUint32(6, true), route.epoch);
      const decoded = decodeFrame(frame);
      assert.equal(decoded.type, type);
      assert.equal(decoded.shard, route.shard);
      assert.equal(decoded.epoch, route.epoch);
      assert.deepEqual(decoded.payload, new Uint8Array(payload));
    }
  });

  it("accepts a frame of exactly the limit and refuses one byte more, on both sides", () => {
    const limit = 1000;
    const atLimit = encodeFrame(0x10, new Uint8Array(limit - FRAME_HEADER_BYTES), limit);
    assert.equal(decodeFrame(atLimit, limit).payload.length, limit - FRAME_HEADER_BYTES);
    assert.throws(() => encodeFrame(0x10, new Uint8Array(limit - 1), limit), { code: "FRAME_TOO_LARGE" });
    const over = new Uint8Array(limit + 1);
    over[0] = FRAME_VERSION;
    over[1] = 0x10;
    assert.throws(() => decodeFrame(over, limit), { code: "FRAME_TOO_LARGE" });
    assert.throws(() => decodeFrame(new Uint8Array(DEFAULT_MAX_FRAME_BYTES + 1)), { code: "FRAME_TOO_LARGE" });
  });

  it("refuses each defect with its own code", () => {
    assert.throws(() => decodeFrame(new Uint8Array(0)), { code: "FRAME_TRUNCATED" });
    assert.throws(() => decodeFrame(Uint8Array.of(FRAME_VERSION)), { code: "FRAME_TRUNCATED" });
    assert.throws(() => decodeFrame(Uint8Array.of(FRAME_VERSION, 0x10, 0, 0, 0, 0, 0, 0, 0)), { code: "FRAME_TRUNCATED" }, "one byte short of the header");
    assert.throws(() => decodeFrame(Uint8Array.of(0, 0x10)), { code: "FRAME_BAD_VERSION" });
    assert.throws(() => decodeFrame(Uint8Array.of(FRAME_VERSION + 1, 0x10, 1)), { code: "FRAME_BAD_VERSION" });
    // A version-1 frame (2-byte header) is refused for its version, not its length.
    assert.throws(() => decodeFrame(Uint8Array.of(1, 0x10, 7)), { code: "FRAME_BAD_VERSION" });
    const header = (type: number, shard = 0, epoch = 0): Uint8Array => {
      const bytes = new Uint8Array(FRAME_HEADER_BYTES);
      bytes[0] = FRAME_VERSION;
      bytes[1] = type;
      new DataView(bytes.buffer).setUint32(2, shard, true);
      new DataView(bytes.buffer).setUint32(6, epoch, true);
      return bytes;
    };
    for (const type of [0x00, 0x03, 0x0f, 0xc0, 0xff]) {
      assert.throws(() => decodeFrame(header(type)), { code: "FRAME_UNKNOWN_TYPE" }, `type ${type}`);
      assert.throws(() => encodeFrame(type, new Uint8Array(0)), { code: "FRAME_UNKNOWN_TYPE" });
    }
    assert.throws(() => decodeFrame(header(CONTROL_MESSAGES.HELLO, 1, 0)), { code: "FRAME_BAD_INSTANCE" });
    assert.throws(() => decodeFrame(header(CONTROL_MESSAGES.AUTH, 0, 1)), { code: "FRAME_BAD_INSTANCE" });
    assert.throws(() => encodeFrame(CONTROL_MESSAGES.HELLO, new Uint8Array(0), undefined, { shard: 0, epoch: 2 }), { code: "FRAME_BAD_INSTANCE" });
    for (const route of [{ shard: -1, epoch: 0 }, { shard: 0, epoch: 2 ** 32 }, { shard: 0.5, epoch: 0 }]) {
      assert.throws(() => encodeFrame(0x10, new Uint8Array(0), undefined, route), { code: "FRAME_BAD_INSTANCE" });
    }
    assert.throws(() => encodeFrame(0x10, "text" as unknown as Uint8Array), { code: "FRAME_BAD_PAYLOAD" });
    assert.throws(() => encodeFrame(0x10, new Uint8Array(0), FRAME_HEADER_BYTES - 1), { code: "FRAME_BAD_LIMIT" });
    assert.throws(() => decodeFrame(header(0x10), 1.5), { code: "FRAME_BAD_LIMIT" });
  });

  it("never throws anything but a coded error on random bytes", () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(i % 40);
      try {
        const frame = decodeFrame(bytes);
        assert.equal(bytes[0], FRAME_VERSION);
        assert.ok(isApplicationType(frame.type) || isControlType(frame.type));
      } catch (error) {
        assert.match((error as { code?: string }).code ?? "", /^FRAME_/);
      }
    }
  });
});

describe("message-type registry", () => {
  it("ranges are disjoint, ordered, and cover 0x00–0xbf", () => {
    const ranges = Object.values(MESSAGE_TYPE_RANGES);
    let next = 0;
    for (const range of ranges) {
      assert.equal(range.first, next);
      assert.ok(range.last >= range.first);
      next = range.last + 1;
    }
    assert.equal(next, 0xc0);
    for (let type = 0; type < 256; type++) {
      const protocol = protocolOfType(type);
      if (type >= 0xc0) assert.equal(protocol, undefined);
      else assert.ok(type >= MESSAGE_TYPE_RANGES[protocol!].first && type <= MESSAGE_TYPE_RANGES[protocol!].last);
    }
    assert.equal(protocolOfType(-1), undefined);
    assert.equal(protocolOfType(1.5), undefined);
  });

  it("numbers each protocol's messages inside its own range", () => {
    const protocols: ApplicationProtocol[] = ["consensus", "drp", "atomix", "msb", "client"];
    for (const protocol of protocols) {
      const { first, last } = MESSAGE_TYPE_RANGES[protocol];
      assert.equal(messageType(protocol, 0), first);
      assert.equal(messageType(protocol, last - first), last);
      assert.equal(protocolOfType(messageType(protocol, 1)), protocol);
      assert.throws(() => messageType(protocol, last - first + 1), { code: "MESSAGE_TYPE_OUT_OF_RANGE" });
      assert.throws(() => messageType(protocol, -1), { code: "MESSAGE_TYPE_OUT_OF_RANGE" });
      assert.throws(() => messageType(protocol, 0.5), { code: "MESSAGE_TYPE_OUT_OF_RANGE" });
    }
    assert.throws(() => messageType("control" as ApplicationProtocol, 0), { code: "MESSAGE_TYPE_INVALID" });
    assert.throws(() => messageType("gossip" as ApplicationProtocol, 0), { code: "MESSAGE_TYPE_INVALID" });
  });

  it("keeps control messages away from application handlers", () => {
    assert.ok(isControlType(CONTROL_MESSAGES.HELLO) && isControlType(CONTROL_MESSAGES.AUTH));
    assert.ok(!isApplicationType(CONTROL_MESSAGES.HELLO) && !isApplicationType(CONTROL_MESSAGES.AUTH));
    assert.ok(!isApplicationType(0xc0) && !isApplicationType(256));
    assert.ok(isApplicationType(0x10) && isApplicationType(0xbf));
  });
});
