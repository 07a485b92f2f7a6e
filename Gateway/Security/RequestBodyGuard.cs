using Gateway.Observability;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// Bounds every request body the gateway reads itself, before any reader (its own endpoints, the form-token check,
/// the OIDC handler's callback paths) touches it. A declared length over the limit is refused with 413 without
/// reading a byte; a chunked body is cut off by Kestrel at the limit (413 too); the form reader gets limits no larger
/// than the body, so a multipart part is held in memory and never spooled to a temp file. Requests bound for a proxy
/// route carry no limit here and pass untouched.
/// </summary>
internal sealed partial class RequestBodyGuard(
    RequestDelegate next,
    IOptionsMonitor<OpenIdConnectOptions> oidc,
    Login.OidcProvider provider,
    GatewayMetrics metrics,
    ILogger<RequestBodyGuard> logger)
{
    // The OIDC handler reads a posted form on these paths from inside UseAuthentication, whatever route they match.
    private readonly PathString[] _handlerPaths = provider.Enabled ? HandlerPaths(oidc.Get(Login.OidcRegistration.Scheme)) : [];

    private static PathString[] HandlerPaths(OpenIdConnectOptions o) => [o.CallbackPath, o.SignedOutCallbackPath, o.RemoteSignOutPath];

    public Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<RequestBodyLimit>() ?? HandlerPathLimit(context.Request.Path);
        return limit is null ? next(context) : GuardAsync(context, limit.Bytes);
    }

    private RequestBodyLimit? HandlerPathLimit(PathString path)
    {
        foreach (var handlerPath in _handlerPaths)
            if (path.Equals(handlerPath, StringComparison.OrdinalIgnoreCase)) return RequestBodyLimit.Form;
        return null;
    }

    private async Task GuardAsync(HttpContext context, int limit)
    {
        var request = context.Request;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            await next(context);
            return;
        }
        if (request.ContentLength > limit)
        {
            await RefuseAsync(context, limit, "declared");
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit;
        // A body of unknown length (chunked) is taken in whole, up to the limit, before any endpoint sees it: every
        // oversized body gets the same 413, whether or not the endpoint would have read it, and never more than
        // limit + 1 bytes are held.
        try
        {
            if (request.ContentLength is null && !await BufferAsync(request, limit, context.RequestAborted))
            {
                await RefuseAsync(context, limit, "streamed");
                return;
            }
        }
        catch (BadHttpRequestException ex)
        {
            // A malformed chunked body, or one too slow to arrive: the client's fault, never a 500.
            await Hosting.GatewayResponses.JsonErrorAsync(context, ex.StatusCode, "invalid_request", "The request body could not be read.", null);
            return;
        }
        context.Features.Set<IFormFeature>(new FormFeature(request, FormLimits(limit)));
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            await RefuseAsync(context, limit, "streamed");
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            // A malformed or too slow body: the client's fault, answered with Kestrel's own status, never a 500.
            context.Response.Clear();
            await Hosting.GatewayResponses.JsonErrorAsync(context, ex.StatusCode, "invalid_request", "The request body could not be read.", null);
        }
        catch (InvalidDataException) when (!context.Response.HasStarted)
        {
            // A reader that does not handle a form over the limits itself (the OIDC handler's): a client error, never a 500.
            metrics.AuthFailure("malformed-form");
            context.Response.Clear();
            await Hosting.GatewayResponses.JsonErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "The form could not be read.", null);
        }
    }

    /// <summary>Reads a body of unknown length into memory; false when it is longer than <paramref name="limit"/>.</summary>
    private static async Task<bool> BufferAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        var buffer = new byte[limit + 1];
        var read = 0;
        try
        {
            while (read < buffer.Length)
            {
                var n = await request.Body.ReadAsync(buffer.AsMemory(read), cancellationToken);
                if (n == 0) break;
                read += n;
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return false;
        }
        if (read > limit) return false;
        request.Body = new MemoryStream(buffer, 0, read, writable: false);
        request.ContentLength = read;
        return true;
    }

    private async Task RefuseAsync(HttpContext context, int limit, string how)
    {
        metrics.AuthFailure("body-too-large");
        LogRefused(logger, context.Request.Path.Value, limit, how);
        context.Response.Clear();
        // The rest of an oversized body is not worth draining: the connection ends after this answer.
        context.Response.Headers.Connection = "close";
        await Hosting.GatewayResponses.JsonErrorAsync(context, StatusCodes.Status413PayloadTooLarge, "request_too_large",
            $"This endpoint accepts at most {limit} bytes of request body.", null);
    }

    /// <summary>No single value, part or buffer may exceed the body limit, and no part may be spooled to disk.</summary>
    private static FormOptions FormLimits(int limit) => new()
    {
        BufferBody = false,
        MemoryBufferThreshold = limit,
        BufferBodyLengthLimit = limit,
        MultipartBodyLengthLimit = limit,
        MultipartHeadersLengthLimit = Math.Min(limit, 4 * 1024),
        ValueLengthLimit = limit,
        KeyLengthLimit = 256,
        ValueCountLimit = 32,
    };

    [LoggerMessage(EventId = LogEvents.RequestBodyRefused, EventName = nameof(LogEvents.RequestBodyRefused), Level = LogLevel.Warning,
        Message = "Request body to {Path} refused: over {Limit} bytes ({How})")]
    private static partial void LogRefused(ILogger logger, string? path, int limit, string how);
}
