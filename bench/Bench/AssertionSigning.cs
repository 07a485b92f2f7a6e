using System.Diagnostics;
using System.Security.Claims;
using Gateway.Hosting;
using Gateway.Identity;
using Gateway.Sessions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bench;

/// <summary>
/// The signed assertion, made two ways with the same key and claims: the gateway's own signer
/// (<see cref="AssertionIssuer"/>, Utf8JsonWriter and ECDsa) and Microsoft.IdentityModel's JsonWebTokenHandler. Each
/// token is checked to verify under the other's validation, then both are timed in alternating rounds on one thread:
/// µs and bytes allocated per token, medians. A signature is paid on every cache miss and every woken session.
/// </summary>
internal static class AssertionSigning
{
    public static async Task<int> ReportAsync()
    {
        var work = Directory.CreateTempSubdirectory("gwsign").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(work, "proxy.json"), Gateways.RouteFile("http://127.0.0.1:9/"));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development", ContentRootPath = work });
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:ProxyConfigPath"] = Path.Combine(work, "proxy.json") });
            builder.AddGateway();
            await using var app = builder.Build();
            var issuer = app.Services.GetRequiredService<AssertionIssuer>();
            var key = await app.Services.GetRequiredService<SigningKeyRing>().CurrentAsync(CancellationToken.None);
            var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Gateway.Configuration.GatewayOptions>>().Value.Identity;
            var now = DateTimeOffset.UtcNow;
            var session = new CachedSession(SessionKey.NewFor("user"), new SessionRecord
            {
                UserId = Guid.NewGuid().ToString(), Email = "user123@example.org", Name = "User Number 123", Roles = ["editor", "reviewer", "staff"],
                CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "oidc",
            }, now, now.AddMinutes(1));

            var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
            var credentials = new SigningCredentials(new ECDsaSecurityKey(key.Algorithm) { KeyId = key.Kid }, SecurityAlgorithms.EcdsaSha256);
            string ByHandler()
            {
                var record = session.Record;
                var claims = new Dictionary<string, object>
                {
                    ["sub"] = record.UserId, ["email"] = record.Email!, ["name"] = record.Name!, ["roles"] = record.Roles.ToArray(),
                    ["sid_hash"] = session.ShortHash, ["jti"] = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
                };
                var at = DateTime.UtcNow;
                return handler.CreateToken(new SecurityTokenDescriptor
                {
                    Issuer = options.AssertionIssuer, Audience = options.AssertionAudience, Claims = claims, SigningCredentials = credentials,
                    IssuedAt = at, NotBefore = at.AddSeconds(-5), Expires = at + options.AssertionLifetime,
                });
            }
            string ByGateway() => issuer.Sign(key, session, options.AssertionAudience, DateTimeOffset.UtcNow);

            // Each verifies as the other: same algorithm, kid, issuer, audience and claims.
            var validation = new TokenValidationParameters
            {
                ValidIssuer = options.AssertionIssuer, ValidAudience = options.AssertionAudience, IssuerSigningKey = new ECDsaSecurityKey(key.Algorithm) { KeyId = key.Kid },
            };
            foreach (var token in new[] { ByGateway(), ByHandler() })
            {
                var result = await handler.ValidateTokenAsync(token, validation);
                if (!result.IsValid || result.ClaimsIdentity.FindFirst("sub")?.Value != session.Record.UserId)
                    throw new InvalidOperationException($"a bench assertion did not verify: {result.Exception?.Message}");
            }

            const int PerRound = 2_000;
            var times = new Dictionary<string, List<double>> { ["gateway"] = [], ["JsonWebTokenHandler"] = [] };
            var bytes = new Dictionary<string, List<double>> { ["gateway"] = [], ["JsonWebTokenHandler"] = [] };
            for (var round = 0; round < 11; round++)
            {
                foreach (var (name, make) in new (string, Func<string>)[] { ("gateway", ByGateway), ("JsonWebTokenHandler", ByHandler) })
                {
                    var allocated = GC.GetAllocatedBytesForCurrentThread();
                    var clock = Stopwatch.StartNew();
                    for (var i = 0; i < PerRound; i++) make();
                    // The first round of each warms the JIT: not counted.
                    if (round == 0) continue;
                    times[name].Add(clock.Elapsed.TotalMicroseconds / PerRound);
                    bytes[name].Add((GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)PerRound);
                }
            }
            static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
            Console.WriteLine($"the signed assertion, ES256, {PerRound:N0} per round, 10 alternating rounds, medians (one thread):");
            foreach (var name in times.Keys)
                Console.WriteLine(FormattableString.Invariant($"  {name,-22}{Median(times[name]),8:0.0} µs{Median(bytes[name]),10:N0} bytes allocated per token"));
            Console.WriteLine(FormattableString.Invariant($"  JsonWebTokenHandler / gateway: time {Median(times["JsonWebTokenHandler"]) / Median(times["gateway"]):0.00}, allocations {Median(bytes["JsonWebTokenHandler"]) / Median(bytes["gateway"]):0.00}"));
            return 0;
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }
}
