/**
 * How a remote agent signs a message, in three languages, for docs/protocol.md (*Signing*).
 * Each reads its private key (PEM, PKCS#8) from `agent-7.key` and makes the headers of one
 * `agent.heartbeat`; test/protocol/agent-signature.test.ts runs all three and has the node
 * verify what they make, so the documentation cannot drift from the check.
 */
export const SIGNING_EXAMPLES = {
  node: [
    "import { createPrivateKey, randomUUID, sign } from 'node:crypto';",
    "import { readFileSync } from 'node:fs';",
    '',
    "const key = createPrivateKey(readFileSync('agent-7.key'));",
    '/** The headers that go with `body` (the exact bytes published) on `subject`. */',
    'function signed(subject, body, agentId, msgId = randomUUID()) {',
    '  const time = new Date().toISOString();',
    '  const data = Buffer.concat([Buffer.from(`omoi-agent-v1\\n${subject}\\n${msgId}\\n${time}\\n${agentId}\\n`), Buffer.from(body)]);',
    "  return { 'Nats-Msg-Id': msgId, 'Omoi-Agent': agentId, 'Omoi-Time': time, 'Omoi-Signature': sign(null, data, key).toString('base64') };",
    '}',
    '',
    "const body = JSON.stringify({ agent_id: 'agent-7' });",
    "const headers = signed('omoi.in.agent.heartbeat', body, 'agent-7');",
    '// nats.js: const h = natsHeaders(); for (const [k, v] of Object.entries(headers)) h.set(k, v);',
    "//          await js.publish('omoi.in.agent.heartbeat', body, { headers: h });",
  ].join('\n'),
  python: [
    'import base64, datetime, json, uuid',
    'from cryptography.hazmat.primitives.serialization import load_pem_private_key',
    '',
    'key = load_pem_private_key(open("agent-7.key", "rb").read(), password=None)',
    '',
    'def signed(subject, body, agent_id, msg_id=None):',
    '    """The headers that go with `body` (the exact bytes published) on `subject`."""',
    '    msg_id = msg_id or str(uuid.uuid4())',
    '    time = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")',
    '    data = f"omoi-agent-v1\\n{subject}\\n{msg_id}\\n{time}\\n{agent_id}\\n".encode() + body',
    '    return {"Nats-Msg-Id": msg_id, "Omoi-Agent": agent_id, "Omoi-Time": time,',
    '            "Omoi-Signature": base64.b64encode(key.sign(data)).decode()}',
    '',
    'body = json.dumps({"agent_id": "agent-7"}).encode()',
    'headers = signed("omoi.in.agent.heartbeat", body, "agent-7")',
    '# nats-py: await js.publish("omoi.in.agent.heartbeat", body, headers=headers)',
  ].join('\n'),
  shell: [
    'subject=omoi.in.agent.heartbeat; agent=agent-7; body=\'{"agent_id":"agent-7"}\'',
    'id=beat-$(date +%s%N); time=$(date -u +%Y-%m-%dT%H:%M:%SZ)',
    'printf \'omoi-agent-v1\\n%s\\n%s\\n%s\\n%s\\n%s\' "$subject" "$id" "$time" "$agent" "$body" > signed.bin',
    'sig=$(openssl pkeyutl -sign -rawin -inkey agent-7.key -in signed.bin | base64 -w0)',
    'nats pub "$subject" "$body" -H "Nats-Msg-Id:$id" -H "Omoi-Agent:$agent" -H "Omoi-Time:$time" -H "Omoi-Signature:$sig"',
  ].join('\n'),
} as const;
