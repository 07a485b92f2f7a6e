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

    public AntiforgeryTokenSet Issue(HttpContext context) => AsAnonymous(context, () => antiforgery.GetAndStoreTokens(context));

    public async Task<bool> IsValidAsync(HttpContext context)
    {
        var user = context.User;
        context.User = Anonymous;
        try
        {
            return await antiforgery.IsRequestValidAsync(context);
        }
        finally
        {
            context.User = user;
        }
    }

    private static T AsAnonymous<T>(HttpContext context, Func<T> action)
    {
        var user = context.User;
        context.User = Anonymous;
        try
        {
            return action();
        }
        finally
        {
            context.User = user;
        }
    }
}
