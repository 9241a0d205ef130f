/**
 * Log sink for fixture servers: silent by default (failures quote the server's last output
 * anyway); set `OMOI_TEST_SERVER_LOG=1` to see every line on stderr.
 */
export function serverLog(name: string): (line: string) => void {
  if (!process.env.OMOI_TEST_SERVER_LOG) return () => undefined;
  return (line) => process.stderr.write(`[${name}] ${line}\n`);
}
