using System.Security.Cryptography;

namespace Gateway.Identity;

/// <summary>
/// One entry of <c>Gateway:Identity:SigningKeys</c>: an assertion signing key supplied by ops (a Kubernetes Secret)
/// instead of the generated, Redis-shared ring. Every configured key is published in the JWKS; the one with the
/// latest <see cref="ActivatesAt"/> not in the future signs. To rotate, add the new key with an activation time at
/// least the JWKS cache time (5 min) ahead, and remove the old one once assertions it signed have expired.
/// </summary>
public sealed class SigningKeyOptions
{
    /// <summary>PKCS#8 or SEC1 PEM of an EC P-256 private key (<c>openssl ecparam -name prime256v1 -genkey -noout</c>).</summary>
    public string Pem { get; set; } = "";

    /// <summary>When the key starts signing. Default: at once.</summary>
    public DateTimeOffset? ActivatesAt { get; set; }

    internal ECDsa? TryLoad()
    {
        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportFromPem(Pem);
            if (ecdsa.KeySize != 256) throw new CryptographicException();
            ecdsa.SignData([1], HashAlgorithmName.SHA256);
            return ecdsa;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            ecdsa.Dispose();
            return null;
        }
    }
}
