using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;

namespace Gateway.Security;

/// <summary>
/// Anti-forgery tokens for the gateway's own forms (login, logout confirmation and retry). They prove
/// the post came from a page this browser loaded from us (double-submit cookie). They are deliberately
/// not bound to the signed-in user: a logout retry page rendered while the store was down (so the user
/// looked anonymous) must still be accepted once the store is back and the session resolves again.
/// </summary>
internal sealed class FormTokens(IAntiforgery antiforgery)
{
    private static readonly ClaimsPrincipal Anonymous = new(new ClaimsIdentity());

    public AntiforgeryTokenSet Issue(HttpContext context)
    {
        using var _ = new AnonymousScope(context);
        return antiforgery.GetAndStoreTokens(context);
    }

    public async Task<bool> IsValidAsync(HttpContext context)
    {
        using var _ = new AnonymousScope(context);
        return await antiforgery.IsRequestValidAsync(context);
    }

    /// <summary>Presents the request as anonymous to the anti-forgery system, and restores the user afterwards.</summary>
    private readonly struct AnonymousScope : IDisposable
    {
        private readonly HttpContext _context;
        private readonly ClaimsPrincipal _user;

        public AnonymousScope(HttpContext context)
        {
            _context = context;
            _user = context.User;
            context.User = Anonymous;
        }

        public void Dispose() => _context.User = _user;
    }
}
