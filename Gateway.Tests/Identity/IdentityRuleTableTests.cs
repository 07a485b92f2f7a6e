using Gateway.Configuration;
using Gateway.Identity;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.Tests.Identity;

/// <summary>Fast in-process tables for the pure identity rules, beside the end-to-end tests through the CMS.</summary>
public sealed class IdentityRuleTableTests
{
    private static readonly IdentityHeaderRules Rules = new(Options.Create(new IdentityOptions()));

    [Theory]
    [InlineData("X-Auth-User", true)]
    [InlineData("x-auth-user", true)]
    [InlineData("X_AUTH_USER", true)]
    [InlineData("X-Auth_Roles", true)]
    [InlineData("x-auth-", true)]
    [InlineData("X-Auth-Anything-Else", true)]
    [InlineData("X-Real-IP", true)]
    [InlineData("x_real_ip", true)]
    [InlineData("Forwarded", true)]
    [InlineData("X-Authorization", false)]
    [InlineData("X-Aut", false)]
    [InlineData("Authorization", false)]
    [InlineData("X-Forwarded-For", false)]
    [InlineData("Cookie", false)]
    public void Which_client_headers_count_as_identity_claims(string name, bool stripped) =>
        Assert.Equal(stripped, Rules.IsIdentityHeader(name));

    [Theory]
    [InlineData(null, "user,email,name,roles,assertion", null)]
    [InlineData("none", "", null)]
    [InlineData("user, roles", "user,roles", null)]
    [InlineData("USER,Assertion", "user,assertion", null)]
    [InlineData("user,password", "user", "unknown header 'password'")]
    public void Route_metadata_selects_the_identity_headers(string? metadata, string expected, string? error)
    {
        var route = new RouteConfig { RouteId = "r", Metadata = metadata is null ? null : new Dictionary<string, string> { [RouteIdentitySettings.HeadersKey] = metadata } };
        var errors = new List<string>();
        var settings = RouteIdentitySettings.Parse(route, errors);
        var selected = new[] { ("user", settings.User), ("email", settings.Email), ("name", settings.Name), ("roles", settings.Roles), ("assertion", settings.Assertion) }
            .Where(p => p.Item2).Select(p => p.Item1);
        Assert.Equal(expected, string.Join(",", selected));
        if (error is null) Assert.Empty(errors);
        else Assert.Contains(errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, "no-store", null)]
    [InlineData("private", "private", null)]
    [InlineData(" No-Store ", "no-store", null)]
    [InlineData("public", "no-store", "shared caching of signed-in pages is never allowed")]
    public void Route_metadata_may_relax_caching_to_private_never_public(string? value, string expected, string? error)
    {
        var route = new RouteConfig { RouteId = "r", Metadata = value is null ? null : new Dictionary<string, string> { [RouteIdentitySettings.CacheControlKey] = value } };
        var errors = new List<string>();
        var settings = RouteIdentitySettings.Parse(route, errors);
        if (error is null)
        {
            Assert.Empty(errors);
            Assert.Equal(expected, settings.AuthenticatedCacheControl);
        }
        else Assert.Contains(errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("José", "Jos%C3%A9")]
    [InlineData("100%real", "100%25real")]
    [InlineData("a\r\nX-Auth-Roles: admin", "a%0D%0AX-Auth-Roles: admin")]
    [InlineData("😀", "%F0%9F%98%80")]
    public void Header_values_are_percent_encoded_utf8(string value, string encoded) =>
        Assert.Equal(encoded, HeaderValueEncoder.Encode(value));
}
