/** An entity row as a plain JSON-ready object: own data only (no ORM helpers), dates as ISO strings. */
export function plainRow(row: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(row)) as Record<string, unknown>;
}
