using System.Xml.Linq;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Gateway.KeyRing;

/// <summary>
/// Sits between DataProtection and the shared repository. It counts reads of the ring (gateway.keyring.reads), and
/// with a key-encryption key configured it hands DataProtection only key
/// elements that are encrypted by the gateway's own decryptor and carry no plaintext master key, so a Redis
/// <em>writer</em> cannot plant a key of its own (unencrypted, or naming another decryptor such as the framework's
/// NullXmlDecryptor) and then mint cookies with it. Revocation elements pass: at worst they end sessions.
/// </summary>
internal sealed partial class KeyRingGuard(IXmlRepository inner, GatewayMetrics metrics, bool requireEncryption, ILogger logger) : IXmlRepository
{
    private static readonly string DecryptorType = typeof(AesGcmXmlDecryptor).FullName + ", " + typeof(AesGcmXmlDecryptor).Assembly.GetName().Name;

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        IReadOnlyCollection<XElement> elements;
        try
        {
            elements = inner.GetAllElements();
        }
        catch
        {
            metrics.KeyRingRead(success: false);
            throw;
        }
        metrics.KeyRingRead(success: true);
        if (!requireEncryption) return elements;
        var accepted = elements.Where(IsAcceptable).ToList();
        if (accepted.Count != elements.Count) LogRejected(logger, elements.Count - accepted.Count);
        return accepted;
    }

    public void StoreElement(XElement element, string friendlyName) => inner.StoreElement(element, friendlyName);

    internal static bool IsAcceptable(XElement element)
    {
        if (element.Name.LocalName == "revocation") return true;
        if (element.Name.LocalName != "key") return false;
        // Encrypted content is opaque text: any masterKey element visible here is in plaintext.
        if (element.Descendants().Any(e => e.Name.LocalName == "masterKey")) return false;
        var secrets = element.Descendants().Where(e => e.Name.LocalName == "encryptedSecret").ToList();
        return secrets.Count == 1 && TypeNameOf((string?)secrets[0].Attribute("decryptorType")) == DecryptorType;
    }

    // "Namespace.Type, Assembly, Version=..., Culture=..., PublicKeyToken=..." -> "Namespace.Type, Assembly"
    private static string? TypeNameOf(string? assemblyQualifiedName)
    {
        if (assemblyQualifiedName is null) return null;
        var parts = assemblyQualifiedName.Split(',', StringSplitOptions.TrimEntries);
        return parts.Length >= 2 ? parts[0] + ", " + parts[1] : null;
    }

    [LoggerMessage(EventId = LogEvents.KeyRingElementRejected, EventName = nameof(LogEvents.KeyRingElementRejected), Level = LogLevel.Warning,
        Message = "{Count} key-ring element(s) in the store are not encrypted with the gateway's key-encryption key and were ignored (planted or written without Gateway:KeyRing:KeyEncryptionKey)")]
    private static partial void LogRejected(ILogger logger, int count);
}
