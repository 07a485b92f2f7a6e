namespace Gateway.LegacySignIn;

/// <summary>
/// How one CMS framework keeps a signed-in session: its cookie, its record in Redis, and where the user id sits in
/// that record. express-session + Passport is <see cref="ExpressSessionFormat"/>; a PHP or Rails session writer is
/// one more class behind this interface.
/// </summary>
internal interface ICmsSessionFormat
{
    /// <summary>A fresh session id, as the framework would draw it.</summary>
    string NewSessionId();

    /// <summary>The cookie value that names <paramref name="sessionId"/>, exactly as a browser would send it (signed, encoded).</summary>
    string CookieValue(string sessionId);

    /// <summary>The session id a cookie value names, when the framework would accept it (its signature verifies); else null.</summary>
    string? SessionIdOf(string? cookieValue);

    /// <summary>The Redis key of a session.</summary>
    string RecordKey(string sessionId);

    /// <summary>The record of a session signed in as <paramref name="userIdJson"/> (a JSON value: number or string) until <paramref name="expiresAt"/>.</summary>
    string NewRecord(string userIdJson, DateTimeOffset now, DateTimeOffset expiresAt);

    /// <summary>The signed-in user id in a stored record, as raw JSON; null for a guest's or an unreadable record.</summary>
    string? UserIdOf(string record);
}
