using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Login;

/// <summary>
/// The configured dev users, checked in constant time: passwords are compared as SHA-256 digests with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>, and an unknown name is compared against a
/// dummy digest, so timing tells neither which names exist nor how much of a password matched.
/// </summary>
internal sealed class DevUserDirectory(IOptions<LoginOptions> options, IHostEnvironment environment)
{
    private static readonly byte[] Dummy = SHA256.HashData("gateway-no-such-user"u8);
    private readonly Dictionary<string, (DevUser User, byte[] Digest)> _users = options.Value.DevUsers
        .ToDictionary(u => u.Name, u => (u, SHA256.HashData(Encoding.UTF8.GetBytes(u.Password))), StringComparer.OrdinalIgnoreCase);

    public bool Enabled { get; } = options.Value.DevUsers.Count > 0 && (environment.IsDevelopment() || options.Value.AllowDevUsers);

    /// <summary>The configured users with their roles, for the Development login page.</summary>
    public IEnumerable<(string Name, string[] Roles)> Users => _users.Values.Select(u => (u.User.Name, u.User.Roles));

    public DevUser? Verify(string? name, string? password)
    {
        if (!Enabled) return null;
        var offered = SHA256.HashData(Encoding.UTF8.GetBytes(password ?? ""));
        var found = _users.TryGetValue(name ?? "", out var entry);
        var matches = CryptographicOperations.FixedTimeEquals(offered, found ? entry.Digest : Dummy);
        return found && matches ? entry.User : null;
    }
}
