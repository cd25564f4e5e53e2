/**
 * Peer authentication (peer-auth.ts) without sockets: keys and signatures against the RFC 8032
 * §7.1 vectors and @noble/curves, the mutual handshake between two in-memory sides, and every
 * way of breaking it (other chain, wrong or unknown key, own key, forged or replayed or reflected
 * signature, out-of-order or malformed messages).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  HELLO_BYTES,
  PeerHandshake,
  PeerIdentity,
  authTranscript,
  encodeHello,
  peerIdOf,
  verifyPeerSignature,
  type AuthErrorCode,
  type HandshakeOptions,
  type TranscriptParts,
} from "../../src/net/peer-auth.js";
import { CryptoRng } from "../../src/runtime/system.js";
import { rfc8032Vectors } from "../support/rfc8032.js";

const vectors = rfc8032Vectors();
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
const CHAIN = new TextEncoder().encode("chain-a");

function side(role: "dialer" | "acceptor", identity: PeerIdentity, overrides: Partial<HandshakeOptions> = {}): PeerHandshake {
  return new PeerHandshake({ role, identity, chainId: CHAIN, rng: new CryptoRng(), admit: () => undefined, ...overrides });
}

/** Runs HELLO and AUTH both ways; returns whom each side authenticated. */
function run(dialer: PeerHandshake, acceptor: PeerHandshake): { atDialer: string; atAcceptor: string } {
  const acceptorSignature = acceptor.receiveHello(dialer.hello());
  const dialerSignature = dialer.receiveHello(acceptor.hello());
  return { atAcceptor: acceptor.receiveAuth(dialerSignature), atDialer: dialer.receiveAuth(acceptorSignature) };
}

function refusedWith(code: AuthErrorCode): { code: AuthErrorCode } {
  return { code };
}

describe("PeerIdentity and signatures", () => {
  it("matches the RFC 8032 §7.1 vectors", () => {
    assert.ok(vectors.length >= 5);
    for (const v of vectors) {
      const identity = PeerIdentity.fromSeed(hex(v.secretKey));
      assert.equal(identity.id, v.publicKey, v.name);
      assert.deepEqual(identity.sign(hex(v.message)), hex(v.signature), v.name);
      assert.ok(verifyPeerSignature(hex(v.publicKey), hex(v.message), hex(v.signature)), v.name);
    }
  });

  it("agrees with @noble/curves on random seeds and messages", () => {
    for (let i = 0; i < 20; i++) {
      const seed = randomBytes(32);
      const message = randomBytes(i * 13);
      const identity = PeerIdentity.fromSeed(seed);
      assert.deepEqual(identity.publicKey, ed25519.getPublicKey(seed));
      const signature = identity.sign(message);
      assert.ok(ed25519.verify(signature, message, identity.publicKey));
      assert.ok(verifyPeerSignature(identity.publicKey, message, ed25519.sign(message, seed)));
    }
  });

  it("rejects altered or malformed signatures and keys without throwing", () => {
    const identity = PeerIdentity.generate();
    const message = randomBytes(50);
    const signature = identity.sign(message);
    const flipped = signature.slice();
    flipped[10]! ^= 1;
    assert.ok(!verifyPeerSignature(identity.publicKey, message, flipped));
    assert.ok(!verifyPeerSignature(identity.publicKey, randomBytes(50), signature));
    assert.ok(!verifyPeerSignature(identity.publicKey, message, signature.subarray(0, 63)));
    assert.ok(!verifyPeerSignature(identity.publicKey.subarray(0, 31), message, signature));
    assert.ok(!verifyPeerSignature(new Uint8Array(32).fill(0xff), message, signature));
    assert.throws(() => PeerIdentity.fromSeed(new Uint8Array(31)), { code: "AUTH_BAD_CONFIG" });
    assert.throws(() => peerIdOf(new Uint8Array(33)), { code: "AUTH_BAD_CONFIG" });
  });
});

describe("PeerHandshake", () => {
  const d = PeerIdentity.generate();
  const a = PeerIdentity.generate();

  it("authenticates both sides to each other", () => {
    const dialer = side("dialer", d, { expectedPeer: a.id });
    const acceptor = side("acceptor", a);
    assert.deepEqual(run(dialer, acceptor), { atDialer: a.id, atAcceptor: d.id });
    assert.ok(dialer.authenticated && acceptor.authenticated);
    assert.equal(dialer.peer, a.id);
    assert.equal(acceptor.peer, d.id);
    assert.equal(dialer.hello().length, HELLO_BYTES);
    assert.notDeepEqual(dialer.hello().subarray(0, 32), acceptor.hello().subarray(0, 32), "fresh nonces");
  });

  it("binds the transcript to every field: chain, role, both nonces, both keys", () => {
    const base: TranscriptParts = {
      chainId: CHAIN,
      signer: "dialer",
      dialerNonce: randomBytes(32),
      acceptorNonce: randomBytes(32),
      dialerKey: d.publicKey,
      acceptorKey: a.publicKey,
    };
    const signature = d.sign(authTranscript(base));
    assert.ok(verifyPeerSignature(d.publicKey, authTranscript(base), signature));
    const variants: Partial<TranscriptParts>[] = [
      { chainId: new TextEncoder().encode("chain-b") },
      { signer: "acceptor" },
      { dialerNonce: randomBytes(32) },
      { acceptorNonce: randomBytes(32) },
      { dialerNonce: base.acceptorNonce, acceptorNonce: base.dialerNonce },
      { acceptorKey: PeerIdentity.generate().publicKey },
      { dialerKey: a.publicKey, acceptorKey: d.publicKey },
    ];
    for (const variant of variants) {
      assert.ok(!verifyPeerSignature(d.publicKey, authTranscript({ ...base, ...variant }), signature), JSON.stringify(Object.keys(variant)));
    }
  });

  it("refuses a peer on another chain", () => {
    const dialer = side("dialer", d, { expectedPeer: a.id });
    const acceptor = side("acceptor", a, { chainId: new TextEncoder().encode("chain-b") });
    assert.throws(() => run(dialer, acceptor), refusedWith("AUTH_BAD_SIGNATURE"));
  });

  it("refuses the wrong key behind a dialed address, an unadmitted key, and our own key", () => {
    const other = PeerIdentity.generate();
    assert.throws(() => side("dialer", d, { expectedPeer: other.id }).receiveHello(side("acceptor", a).hello()), refusedWith("AUTH_WRONG_PEER"));
    const admit = (peer: string): AuthErrorCode | undefined => (peer === d.id ? "AUTH_UNKNOWN_PEER" : undefined);
    assert.throws(() => side("acceptor", a, { admit }).receiveHello(side("dialer", d, { expectedPeer: a.id }).hello()), refusedWith("AUTH_UNKNOWN_PEER"));
    assert.throws(() => side("acceptor", a).receiveHello(encodeHello(randomBytes(32), a.publicKey)), refusedWith("AUTH_SELF"));
  });

  it("refuses a validator's key with a signature by another key", () => {
    const impostor = PeerIdentity.generate();
    const acceptor = side("acceptor", a);
    const nonce = randomBytes(32);
    acceptor.receiveHello(encodeHello(nonce, d.publicKey));
    const forged = impostor.sign(
      authTranscript({ chainId: CHAIN, signer: "dialer", dialerNonce: nonce, acceptorNonce: acceptor.hello().subarray(0, 32), dialerKey: d.publicKey, acceptorKey: a.publicKey }),
    );
    assert.throws(() => acceptor.receiveAuth(forged), refusedWith("AUTH_BAD_SIGNATURE"));
    assert.ok(!acceptor.authenticated);
  });

  it("refuses a replayed handshake and a reflected signature", () => {
    // A genuine session between d and a, recorded.
    const dialer1 = side("dialer", d, { expectedPeer: a.id });
    const acceptor1 = side("acceptor", a);
    const dialerHello = dialer1.hello();
    acceptor1.receiveHello(dialerHello);
    const dialerAuth = dialer1.receiveHello(acceptor1.hello());
    assert.equal(acceptor1.receiveAuth(dialerAuth), d.id);

    // Replayed to a new acceptor session: its fresh nonce makes the signature worthless.
    const acceptor2 = side("acceptor", a);
    acceptor2.receiveHello(dialerHello);
    assert.throws(() => acceptor2.receiveAuth(dialerAuth), refusedWith("AUTH_BAD_SIGNATURE"));

    // The acceptor's own signature sent back to it as the dialer's (same link, other direction).
    const dialer3 = side("dialer", d, { expectedPeer: a.id });
    const acceptor3 = side("acceptor", a);
    const acceptorAuth = acceptor3.receiveHello(dialer3.hello());
    const dialer3Auth = dialer3.receiveHello(acceptor3.hello());
    assert.throws(() => dialer3.receiveAuth(dialer3Auth), refusedWith("AUTH_BAD_SIGNATURE"));
    assert.throws(() => acceptor3.receiveAuth(acceptorAuth), refusedWith("AUTH_BAD_SIGNATURE"));
  });

  it("refuses out-of-order and malformed messages, and stays failed", () => {
    const acceptor = side("acceptor", a);
    assert.throws(() => acceptor.receiveAuth(new Uint8Array(64)), refusedWith("AUTH_UNEXPECTED"));
    assert.throws(() => acceptor.receiveHello(side("dialer", d, { expectedPeer: a.id }).hello()), refusedWith("AUTH_UNEXPECTED"));

    const fresh = side("acceptor", a);
    assert.throws(() => fresh.receiveHello(new Uint8Array(HELLO_BYTES - 1)), refusedWith("AUTH_BAD_MESSAGE"));
    const second = side("acceptor", a);
    second.receiveHello(side("dialer", d, { expectedPeer: a.id }).hello());
    assert.throws(() => second.receiveHello(side("dialer", d, { expectedPeer: a.id }).hello()), refusedWith("AUTH_UNEXPECTED"));
    const third = side("acceptor", a);
    third.receiveHello(side("dialer", d, { expectedPeer: a.id }).hello());
    assert.throws(() => third.receiveAuth(new Uint8Array(65)), refusedWith("AUTH_BAD_MESSAGE"));
  });

  it("refuses bad configuration", () => {
    assert.throws(() => side("acceptor", a, { chainId: new Uint8Array(0) }), refusedWith("AUTH_BAD_CONFIG"));
    assert.throws(() => side("acceptor", a, { chainId: new Uint8Array(256) }), refusedWith("AUTH_BAD_CONFIG"));
    assert.throws(() => side("dialer", d), refusedWith("AUTH_BAD_CONFIG"));
    assert.throws(() => side("observer" as "dialer", d, { expectedPeer: a.id }), refusedWith("AUTH_BAD_CONFIG"));
  });
});
