/** A database login minted for a while: who, the password, and when it stops working. */
export interface DbCredentials {
  user: string;
  password: string;
  expiration: Date;
  /** When the issuer advises asking again (AWS's NextRefreshTime), if it says. */
  refreshAfter?: Date;
}

/** Mints a fresh login (an AWS API call, or the emulation's stand-in). */
export type Mint = () => Promise<DbCredentials>;

/** Hands out a current login, minting a new one before the last expires; held in memory only. */
export interface CredentialCache {
  /** A login valid for at least the safety margin from now. */
  current(): Promise<DbCredentials>;
  /** How many logins were minted so far (the tests count refreshes). */
  readonly minted: number;
}

/** How long before expiry a login counts as stale: a quarter of its life, at most five minutes. */
export function refreshMargin(lifeMs: number): number {
  return Math.min(5 * 60_000, Math.max(0, lifeMs / 4));
}

/**
 * Caches one login and mints the next when the current one is within its margin of expiry (or past
 * the issuer's advised refresh time). A connection needs a valid password only when it logs in, so
 * minting per new connection, not per query, keeps a long run going across expiries. Concurrent
 * callers share one mint.
 */
export function credentialCache(mint: Mint, now: () => number = Date.now): CredentialCache {
  let held: { creds: DbCredentials; staleAt: number } | undefined;
  let pending: Promise<DbCredentials> | undefined;
  let minted = 0;
  const fresh = async () => {
    const asked = now();
    const creds = await mint();
    minted++;
    const expires = creds.expiration.getTime();
    // An advised refresh time counts only when it falls within the login's life (WithIAM's is "reserved for future use").
    const advised = creds.refreshAfter?.getTime();
    const staleAt = Math.min(expires - refreshMargin(expires - asked), advised !== undefined && advised > asked ? advised : Infinity);
    held = { creds, staleAt };
    return creds;
  };
  return {
    async current() {
      if (held && now() < held.staleAt) return held.creds;
      pending ??= fresh().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    get minted() {
      return minted;
    },
  };
}
