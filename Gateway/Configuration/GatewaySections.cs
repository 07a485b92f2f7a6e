using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// Each capability's settings as its own <see cref="IOptions{TOptions}"/> (<c>IOptions&lt;GatewaySessionOptions&gt;</c>,
/// <c>IOptions&lt;LogoutOptions&gt;</c> …), registered by the capability's own <c>AddGatewayX</c>. Every section is a
/// part of the one <c>Gateway:</c> binding (<see cref="StartupCheck"/>), validated with the whole so that ops see every
/// problem, across sections, in one message; only the composition reads the whole.
/// </summary>
internal static class GatewaySections
{
    public static IServiceCollection AddGatewaySection<TSection>(this IServiceCollection services, Func<GatewayOptions, TSection> section)
        where TSection : class
    {
        // TryAdd: two capabilities that read one section register it once. A closed registration wins over the options
        // framework's open IOptions<>, which would hand out defaults instead of the bound values.
        services.TryAddSingleton<IOptions<TSection>>(sp => Options.Create(section(sp.GetRequiredService<IOptions<GatewayOptions>>().Value)));
        return services;
    }

    /// <summary>The whole section as <see cref="StartupCheck"/> bound it, checked by every registered validator on first use.</summary>
    internal sealed class BoundOnce(StartupCheck check, IEnumerable<IValidateOptions<GatewayOptions>> validators) : IOptionsFactory<GatewayOptions>
    {
        public GatewayOptions Create(string name)
        {
            var failures = new List<string>();
            foreach (var validator in validators)
                if (validator.Validate(name, check.Settings) is { Failed: true, Failures: { } failed }) failures.AddRange(failed);
            // A value the binder could not convert fails validation too; offline tools (no validator) get the defaults.
            if (failures.Count > 0 || validators.Any()) failures.InsertRange(0, check.BindErrors);
            return failures.Count == 0 ? check.Settings : throw new OptionsValidationException(name, typeof(GatewayOptions), failures);
        }
    }
}
