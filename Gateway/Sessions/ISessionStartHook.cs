using System.Security.Claims;

namespace Gateway.Sessions;

/// <summary>
/// Runs when a sign-in is about to create a session, before anything is stored: may add to the record (the CMS
/// session it signed in, say) or refuse the sign-in with <see cref="SessionStartRefusedException"/>. A store it cannot
/// reach throws <see cref="StoreUnavailableException"/>; either way no session is created.
/// </summary>
internal interface ISessionStartHook
{
    Task<SessionRecord> StartingAsync(HttpContext context, ClaimsPrincipal user, SessionRecord record, CancellationToken cancellationToken);
}

/// <summary>A sign-in refused by a <see cref="ISessionStartHook"/>: the user sees <see cref="Exception.Message"/>, no session is created.</summary>
internal sealed class SessionStartRefusedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Consulted when a request bound for a proxy route has no live gateway session: may turn another proof of sign-in
/// (the CMS's own session at cut-over) into a gateway session, set its cookie, and return it. Null adopts nothing.
/// </summary>
internal interface ISessionAdopter
{
    ValueTask<CachedSession?> AdoptAsync(HttpContext context);
}
