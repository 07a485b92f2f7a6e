using System.Security.Cryptography;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.KeyRing;

/// <summary>The configured key-encryption keys by id (a hash of the key, so the id says nothing about it).</summary>
internal sealed class KeyEncryptionKeys
{
    public KeyEncryptionKeys(IOptions<KeyRingOptions> options)
    {
        var settings = options.Value;
        if (settings.IsConfigured && TryParse(settings.KeyEncryptionKey!) is { } current)
        {
            CurrentId = IdOf(current);
            All[CurrentId] = current;
        }
        foreach (var previous in settings.PreviousKeyEncryptionKeys)
            if (TryParse(previous) is { } key) All.TryAdd(IdOf(key), key);
    }

    public string? CurrentId { get; }

    public Dictionary<string, byte[]> All { get; } = new(StringComparer.Ordinal);

    public static byte[]? TryParse(string value)
    {
        var bytes = new byte[32];
        return Convert.TryFromBase64String(value.Trim(), bytes, out var written) && written == 32 ? bytes : null;
    }

    private static string IdOf(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
}
