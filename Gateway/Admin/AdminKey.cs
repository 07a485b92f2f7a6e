using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Admin;

/// <summary><c>Authorization: Bearer &lt;Gateway:Admin:ApiKey&gt;</c>, compared in constant time.</summary>
internal sealed class AdminKey(IOptions<AdminOptions> options)
{
    private readonly byte[]? _digest = string.IsNullOrEmpty(options.Value.ApiKey) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.ApiKey));

    public bool IsConfigured => _digest is not null;

    /// <summary>Null when the request offers no bearer key; otherwise whether it is the admin key.</summary>
    public bool? Check(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return null;
        var offered = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
        return _digest is not null && CryptographicOperations.FixedTimeEquals(offered, _digest);
    }
}
