using System.Reflection;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Foundation;

/// <summary>
/// Each capability reads its own section (<c>IOptions&lt;GatewaySessionOptions&gt;</c> …): every one must be the bound
/// and validated part of the one <c>Gateway:</c> binding. A section nobody registered would silently resolve to the
/// options framework's defaults instead (an idle timeout, a cookie name, a key prefix ops never set).
/// </summary>
public sealed class SettingsSectionTests
{
    private static WebApplication Build(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development", ContentRootPath = Tools.NewTempDir("sections"), Args = [] });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddGateway();
        return builder.Build();
    }

    private static IEnumerable<PropertyInfo> Sections() => typeof(GatewayOptions).GetProperties()
        .Where(p => p.PropertyType.IsClass && p.PropertyType != typeof(string) && !p.PropertyType.IsGenericType);

    [Fact]
    public async Task Every_section_a_capability_injects_is_the_bound_part_of_the_whole()
    {
        // Redis configured (never connected: nothing here starts) and the legacy sign-in on, so every capability registers.
        await using var app = Build(new()
        {
            ["Gateway:Redis:Configuration"] = "127.0.0.1:1,abortConnect=false",
            ["Gateway:Session:IdleTimeout"] = "00:07:00",
            ["Gateway:LegacySignIn:Enabled"] = "true",
            ["Gateway:LegacySignIn:Secrets:0"] = "cms-secret-cms-secret-cms-secret!",
            ["Gateway:LegacySignIn:UserId:Claim"] = "sub",
        });
        var whole = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var sections = Sections().ToList();
        Assert.Equal(11, sections.Count);
        foreach (var section in sections)
        {
            var injected = app.Services.GetRequiredService(typeof(IOptions<>).MakeGenericType(section.PropertyType));
            var value = injected.GetType().GetProperty(nameof(IOptions<object>.Value))!.GetValue(injected);
            Assert.True(ReferenceEquals(section.GetValue(whole), value), $"IOptions<{section.PropertyType.Name}> is not Gateway:{section.Name}");
        }
        Assert.Equal(TimeSpan.FromMinutes(7), app.Services.GetRequiredService<IOptions<GatewaySessionOptions>>().Value.IdleTimeout);
    }

    [Fact]
    public async Task A_section_is_not_handed_out_when_the_whole_fails_validation()
    {
        await using var app = Build(new() { ["Gateway:Session:IdleTimeout"] = "00:00:10" });
        var failure = Assert.Throws<OptionsValidationException>(() => app.Services.GetRequiredService<IOptions<GatewaySessionOptions>>().Value);
        Assert.Contains("Gateway:Session:IdleTimeout: must be at least 00:01:00.", failure.Failures);
    }

    [Fact]
    public async Task A_value_the_binder_cannot_convert_fails_validation_naming_its_key()
    {
        await using var app = Build(new() { ["Gateway:Session:IdleTimeout"] = "seven minutes" });
        var failure = Assert.Throws<OptionsValidationException>(() => app.Services.GetRequiredService<IOptions<GatewaySessionOptions>>().Value);
        Assert.Contains(failure.Failures, f => f.Contains("Gateway:Session:IdleTimeout", StringComparison.Ordinal));
    }
}
