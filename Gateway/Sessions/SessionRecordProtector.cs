using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace Gateway.Sessions;

/// <summary>Serialises and encrypts session records, so a dump of the shared Redis exposes no email, role or token.</summary>
internal sealed class SessionRecordProtector(IDataProtectionProvider provider, KeyRing.KeyRingHealth keyRing, KeyRing.BackgroundRefreshKeyRingProvider keys)
{
    private readonly IDataProtector _protector = provider.CreateProtector("Gateway.SessionRecord.v1");

    public byte[] Protect(SessionRecord record) => _protector.Protect(JsonSerializer.SerializeToUtf8Bytes(record, SessionJson.Default.SessionRecord));

    /// <summary>
    /// For bytes that already decrypted here (the same bytes, by digest): whether they still would, as far as the key
    /// ring decides it (their key held and not revoked). Nothing is decrypted.
    /// </summary>
    public bool StillReadable(byte[] bytes) => keys.StillUnrevoked(bytes);

    /// <summary>Null when the bytes were not written by a replica sharing our keys (tampered, foreign, or keys lost).</summary>
    public SessionRecord? Unprotect(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize(_protector.Unprotect(bytes), SessionJson.Default.SessionRecord);
        }
        catch (CryptographicException) when (!keyRing.Usable)
        {
            throw new StoreUnavailableException("the DataProtection key ring could not be loaded");
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException)
        {
            return null;
        }
    }
}
