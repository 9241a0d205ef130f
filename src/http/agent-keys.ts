import { generateKeyPairSync } from 'node:crypto';

/** An agent's signing identity: the public half is registered, the private half goes to the agent once. */
export interface AgentKeyPair { publicKey: string; privateKey: string }

/** A fresh ed25519 key pair as PEM (SPKI public, PKCS#8 private). Nothing keeps the private key. */
export function generateAgentKeyPair(): AgentKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey, privateKey };
}
