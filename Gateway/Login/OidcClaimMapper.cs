using System.Security.Claims;
using System.Text.Json;
using Gateway.Sessions;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Gateway.Login;

/// <summary>Maps the provider's id_token claims to the gateway's, by the configured claim names.</summary>
internal static class OidcClaimMapper
{
    public static List<Claim> Map(JsonWebToken idToken, JsonElement tokenResponse, OidcOptions settings)
    {
        _ = tokenResponse;
        var userId = Value(idToken, settings.UserIdClaim);
        if (string.IsNullOrEmpty(userId))
            throw new Microsoft.AspNetCore.Authentication.AuthenticationFailureException($"The id_token has no '{settings.UserIdClaim}' claim (Gateway:Login:Oidc:UserIdClaim).");
        var claims = new List<Claim> { new(GatewayClaims.UserId, userId), new(GatewayClaims.Method, "oidc") };
        if (Value(idToken, settings.EmailClaim) is { Length: > 0 } email) claims.Add(new Claim(GatewayClaims.Email, email));
        if (Value(idToken, settings.NameClaim) is { Length: > 0 } name) claims.Add(new Claim(GatewayClaims.Name, name));
        if (Value(idToken, "sid") is { Length: > 0 } sid) claims.Add(new Claim(GatewayClaims.ProviderSessionId, sid));
        foreach (var role in Roles(idToken, settings.RolesClaim)) claims.Add(new Claim(GatewayClaims.Role, role));
        return claims;
    }

    private static string? Value(JsonWebToken token, string claim) =>
        token.TryGetPayloadValue<JsonElement>(claim, out var element)
            ? element.ValueKind switch
            {
                JsonValueKind.String => element.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => element.GetRawText(),
                _ => null,
            }
            : null;

    private static IEnumerable<string> Roles(JsonWebToken token, string claim)
    {
        if (!token.TryGetPayloadValue<JsonElement>(claim, out var element)) return [];
        var raw = element.ValueKind switch
        {
            JsonValueKind.Array => element.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!),
            JsonValueKind.String => element.GetString()!.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries),
            _ => [],
        };
        return raw.Select(r => r.Trim()).Where(r => r.Length > 0).Distinct(StringComparer.Ordinal);
    }
}
