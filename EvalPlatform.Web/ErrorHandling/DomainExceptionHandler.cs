using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Diagnostics;

namespace EvalPlatform.Web;

/// <summary>
/// The one exception handler: domain refusals become problem details with their status (and the
/// field, for validation); anything else is a 500 that says nothing of its internals.
/// </summary>
public sealed class DomainExceptionHandler(ILogger<DomainExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case InputValidationException iv:
                await Problems.WriteAsync(httpContext, StatusCodes.Status400BadRequest, "Invalid request",
                    iv.Errors.Count == 1 ? $"{iv.Errors[0].Field}: {iv.Errors[0].Message}" : $"{iv.Errors.Count} fields are invalid; see errors.",
                    iv.Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
                return true;
            case UnacceptableBodyException u:
                await Problems.WriteAsync(httpContext, u.Status, u.Status == StatusCodes.Status413PayloadTooLarge ? "Payload too large" : "Unsupported media type", u.Message);
                return true;
            case IngestionOverloadedException o:
                httpContext.Response.Headers.RetryAfter = "1";
                await Problems.WriteAsync(httpContext, StatusCodes.Status503ServiceUnavailable, "Busy", o.Message);
                return true;
            case RateLimits.RateLimitExceededException r:
                await RateLimits.RateLimitMiddleware.WriteAsync(httpContext, r);
                return true;
            case DomainValidationException v:
                await Problems.WriteAsync(httpContext, StatusCodes.Status400BadRequest, "Invalid request", v.Message,
                    new Dictionary<string, string[]> { [v.Field] = [v.Message] });
                return true;
            case PermissionDeniedException p:
                await Problems.WriteAsync(httpContext, StatusCodes.Status403Forbidden, "Forbidden", p.Message);
                return true;
            case NotFoundException n:
                await Problems.WriteAsync(httpContext, StatusCodes.Status404NotFound, "Not found", n.Message);
                return true;
            case ConflictException c:
                await Problems.WriteAsync(httpContext, StatusCodes.Status409Conflict, "Conflict", c.Message);
                return true;
            case var e when DatabaseFailures.IsTransient(e):
                // A restart or a dropped connection: the request did not complete, so the client sends it again (ingestion is
                // idempotent by trace id and external id). Logged without the stack: it is not a bug of ours.
                logger.LogWarning("The database did not answer {Method} {Path}: {Reason}; answered 503", httpContext.Request.Method, httpContext.Request.Path, e.GetBaseException().Message);
                httpContext.Response.Headers.RetryAfter = "2";
                await Problems.WriteAsync(httpContext, StatusCodes.Status503ServiceUnavailable, "Database unavailable",
                    "The database is unavailable for a moment and the request did not complete; send it again after Retry-After.");
                return true;
            case BadHttpRequestException b:
                await Problems.WriteAsync(httpContext, b.StatusCode, "Bad request", b.Message);
                return true;
            default:
                logger.LogError(exception, "Unhandled error on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
                await Problems.WriteAsync(httpContext, StatusCodes.Status500InternalServerError, "Server error",
                    "Something went wrong on our side; it has been logged.");
                return true;
        }
    }
}
