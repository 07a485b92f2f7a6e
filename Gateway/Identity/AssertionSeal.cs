using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Sessions;

namespace Gateway.Identity;

/// <summary>
/// What a shed session keeps of its signed assertion: not the ~1.1 KB token string but its signature, its iat and jti,
/// and the hash of what was signed (144 bytes). A session woken while the assertion is still good gets it spelled out
/// again from its record (<see cref="AssertionIssuer"/>) instead of a new ECDSA signature; the spelling is used only when
/// it hashes to exactly what was signed, so a token is never sent with a signature over other bytes.
/// </summary>
internal sealed class AssertionSeal
{
    private readonly long _refreshAfterTicks;
    private readonly UInt128 _jti;
    private readonly UInt128 _signedHash;
    private Signature _signature;

    private AssertionSeal(SignedAssertion held, UInt128 signedHash, ReadOnlySpan<byte> signature)
    {
        Audience = held.Audience;
        Kid = held.Kid;
        _refreshAfterTicks = held.RefreshAfter.UtcTicks;
        IssuedAt = held.IssuedAt;
        _jti = held.Jti;
        _signedHash = signedHash;
        signature.CopyTo(_signature);
    }

    public string Audience { get; }
    public string Kid { get; }
    /// <summary>The token's iat, in Unix seconds (its nbf and exp follow from it).</summary>
    public long IssuedAt { get; }
    public UInt128 Jti => _jti;
    public DateTimeOffset RefreshAfter => new(_refreshAfterTicks, TimeSpan.Zero);
    public ReadOnlySpan<byte> SignatureBytes => _signature;

    /// <summary>Whether the assertion may still be spelled out for this request: the rule a held one serves by.</summary>
    public bool ServesFor(string audience, string kid, DateTimeOffset now) => SignedAssertion.Serves(RefreshAfter, Audience, Kid, audience, kid, now);

    /// <summary>True when <paramref name="signingInput"/> (header.payload as ASCII) hashes to what the signature covers.</summary>
    public bool Covers(ReadOnlySpan<byte> signingInput) => CachedSession.DigestOf(signingInput) == _signedHash;

    // Past this the token is not kept this way: its next use signs anew (a session with thousands of provider groups).
    private const int MaxTokenLength = 4096;

    /// <summary>
    /// The seal of <paramref name="held"/>, or null when it is no longer worth keeping (due for a new signature by
    /// <paramref name="now"/>) or is not a token this issuer made (outsized, or not three base64url parts with a P-256
    /// signature).
    /// </summary>
    public static AssertionSeal? Of(SignedAssertion? held, DateTimeOffset now)
    {
        if (held is null || held.RefreshAfter <= now || held.Token.Length > MaxTokenLength) return null;
        var token = held.Token.AsSpan();
        var lastDot = token.LastIndexOf('.');
        if (lastDot <= 0) return null;
        Span<byte> signature = stackalloc byte[AssertionIssuer.SignatureLength + 2];
        if (Base64Url.DecodeFromChars(token[(lastDot + 1)..], signature, out var read, out var written) != System.Buffers.OperationStatus.Done
            || read != token.Length - lastDot - 1 || written != AssertionIssuer.SignatureLength)
            return null;
        Span<byte> signingInput = stackalloc byte[lastDot];
        if (Ascii.FromUtf16(token[..lastDot], signingInput, out _) != System.Buffers.OperationStatus.Done) return null;
        return new AssertionSeal(held, CachedSession.DigestOf(signingInput), signature[..written]);
    }

    [InlineArray(AssertionIssuer.SignatureLength)]
    private struct Signature
    {
        private byte _first;
    }
}
