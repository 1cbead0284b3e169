// Iceberg `timestamptz` is microseconds since the epoch (UTC). Rows carry ISO 8601 strings, the
// form the Event contract and Firehose's JSON records use; these convert between the two without
// going through Date, which would drop the microseconds.

export const MICROS_PER_MILLI = 1_000n;
export const MICROS_PER_DAY = 86_400_000_000n;

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** The pattern rows must match: ISO 8601 in UTC (`Z`), up to nine fraction digits. */
export const ISO_UTC_PATTERN = ISO_UTC;

/**
 * Microseconds since the epoch of an ISO 8601 UTC timestamp, or undefined when it is not one or
 * names no real instant (2024-02-30). Fraction digits past the sixth are truncated: timestamptz
 * holds microseconds.
 */
export function parseTimestampMicros(iso: string): bigint | undefined {
  const m = ISO_UTC.exec(iso);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(millis);
  // Date.UTC rolls 2024-02-30 over to March; a real date survives the round trip.
  if (
    !Number.isFinite(millis) ||
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    back.getUTCHours() !== hour ||
    back.getUTCMinutes() !== minute ||
    back.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  const fraction = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(millis) * MICROS_PER_MILLI + BigInt(fraction);
}

/**
 * ISO 8601 UTC of a microsecond timestamp: millisecond precision (as Date.toISOString writes it)
 * when the microseconds are whole milliseconds, six fraction digits otherwise.
 */
export function formatTimestampMicros(micros: bigint): string {
  const millis = floorDiv(micros, MICROS_PER_MILLI);
  const sub = micros - millis * MICROS_PER_MILLI;
  const iso = new Date(Number(millis)).toISOString();
  if (sub === 0n) return iso;
  return `${iso.slice(0, -1)}${sub.toString().padStart(3, '0')}Z`;
}

/** Floor division for bigints (the `/` operator truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
