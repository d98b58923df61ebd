/** `--allowed-origins`: exact origins, or `https://*.example.com` for any subdomain. */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  if (origin === undefined || allowed.length === 0) return true;
  const o = origin.toLowerCase();
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    const star = p.indexOf('://*.');
    if (star === -1) return p === o;
    const scheme = p.slice(0, star + 3);
    const suffix = p.slice(star + 4); // ".example.com"
    return o.startsWith(scheme) && o.endsWith(suffix) && o.length > scheme.length + suffix.length;
  });
}
