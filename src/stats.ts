/** The median of some measurements (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  if (!values.length) throw new Error('the median of no values');
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
