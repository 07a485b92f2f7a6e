namespace Gateway.KeyRing;

/// <summary>
/// <c>Gateway:KeyRing</c>: the key-encryption key that protects the DataProtection key ring at rest in the
/// shared Redis. It lives in settings or a Kubernetes Secret, never in Redis, so a Redis reader (the CMS's
/// credentials, a replica, a backup) cannot decrypt the ring, mint a cookie or read a session record.
/// </summary>
public sealed class KeyRingOptions
{
    /// <summary>Base64 of 32 random bytes (AES-256-GCM), e.g. <c>openssl rand -base64 32</c>. Required with Redis outside Development.</summary>
    public string? KeyEncryptionKey { get; set; }

    /// <summary>
    /// Earlier key-encryption keys, kept for decryption only after a rotation: ring keys written under them stay
    /// readable until they expire (DataProtection keys live 90 days), after which the old key can be dropped.
    /// </summary>
    public string[] PreviousKeyEncryptionKeys { get; set; } = [];

    internal bool IsConfigured => !string.IsNullOrWhiteSpace(KeyEncryptionKey);

    internal void Validate(Action<string, string> add, bool redisConfigured, bool isDevelopment)
    {
        if (!IsConfigured)
        {
            if (redisConfigured && !isDevelopment)
                add("KeyRing:KeyEncryptionKey", "is required with Redis outside Development: without it the DataProtection key ring sits in Redis in plaintext and anyone who can read Redis can sign in as anyone. Set it to base64 of 32 random bytes (openssl rand -base64 32) from a Secret.");
        }
        else if (KeyEncryptionKeys.TryParse(KeyEncryptionKey!) is null)
        {
            add("KeyRing:KeyEncryptionKey", "must be base64 of exactly 32 bytes (openssl rand -base64 32).");
        }
        for (var i = 0; i < PreviousKeyEncryptionKeys.Length; i++)
            if (KeyEncryptionKeys.TryParse(PreviousKeyEncryptionKeys[i]) is null)
                add($"KeyRing:PreviousKeyEncryptionKeys:{i}", "must be base64 of exactly 32 bytes.");
    }
}
