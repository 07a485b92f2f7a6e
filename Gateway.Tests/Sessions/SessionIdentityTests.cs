using System.Security.Claims;
using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>The cached session's principal, whose claims are built on first read, answers as the eager one did.</summary>
public sealed class SessionIdentityTests
{
    private static readonly CachedRecord Record = CachedRecord.Of(new SessionRecord
    {
        UserId = "u-1", Email = "u@example.test", Name = "User One", Roles = ["editor", "Admin"], Method = "oidc",
        CreatedAt = DateTimeOffset.UnixEpoch, AbsoluteExpiresAt = DateTimeOffset.UnixEpoch.AddHours(1),
    });

    private static ClaimsPrincipal Eager() => new(new ClaimsIdentity(
        [new("sub", "u-1"), new("amr", "oidc"), new("email", "u@example.test"), new("name", "User One"), new("role", "editor"), new("role", "Admin")],
        GatewayClaims.AuthenticationType, GatewayClaims.Name, GatewayClaims.Role));

    [Theory]
    [InlineData("editor")]
    [InlineData("Admin")]
    [InlineData("admin")]
    [InlineData("EDITOR")]
    [InlineData("")]
    [InlineData("viewer")]
    public void Roles_are_matched_exactly_as_by_a_claims_identity(string role) =>
        Assert.Equal(Eager().IsInRole(role), GatewayClaims.ToLazyPrincipal(Record).IsInRole(role));

    [Fact]
    public void Claims_name_and_authentication_are_those_of_the_eager_principal()
    {
        var lazy = GatewayClaims.ToLazyPrincipal(Record);
        var eager = Eager();
        Assert.True(lazy.Identity!.IsAuthenticated);
        Assert.Equal(GatewayClaims.AuthenticationType, lazy.Identity.AuthenticationType);
        Assert.Equal("User One", lazy.Identity.Name);
        Assert.Equal(eager.Claims.Select(c => (c.Type, c.Value)), lazy.Claims.Select(c => (c.Type, c.Value)));
        Assert.Equal("u-1", lazy.FindFirst("sub")!.Value);
        Assert.True(lazy.HasClaim("ROLE", "Admin"));
        Assert.False(lazy.HasClaim("role", "admin"));
        Assert.True(lazy.HasClaim("email", "u@example.test"));
        Assert.All(lazy.Claims, c => Assert.Same(lazy.Identity, c.Subject));
    }

    [Fact]
    public void The_shared_identity_cannot_be_changed_but_its_clone_can()
    {
        var identity = (ClaimsIdentity)GatewayClaims.ToLazyPrincipal(Record).Identity!;
        Assert.Throws<NotSupportedException>(() => identity.AddClaim(new Claim("role", "admin")));
        Assert.Throws<NotSupportedException>(() => identity.AddClaims([new Claim("role", "admin")]));
        Assert.Throws<NotSupportedException>(() => identity.RemoveClaim(identity.FindFirst("role")));
        Assert.Throws<NotSupportedException>(() => identity.TryRemoveClaim(identity.FindFirst("role")));
        Assert.False(identity.HasClaim("role", "root"));

        var clone = identity.Clone();
        clone.AddClaim(new Claim("role", "root"));
        Assert.True(clone.HasClaim("role", "root"));
        Assert.False(identity.HasClaim("role", "root"));
        Assert.Equal(identity.Claims.Count() + 1, clone.Claims.Count());
    }
}
