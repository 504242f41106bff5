using EvalPlatform.Core.Common;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Components;

namespace EvalPlatform.Tests.Unit.Common;

/// <summary>The one way components turn an exception into a message.</summary>
public sealed class UserErrorsTests
{
    public static TheoryData<Exception, string> Outcomes() => new()
    {
        { new DomainValidationException("name", "Give the queue a name."), "Give the queue a name." },
        { new PermissionDeniedException("Only admins may do that."), "Only admins may do that." },
        { new NotFoundException("No such queue in this team."), "No such queue in this team." },
        { new ConflictException("Someone changed it first."), "Someone changed it first." },
        { new InputValidationException([new FieldError("score", "Score must be 0–1."), new FieldError("note", "Note is too long.")]), "Score must be 0–1. Note is too long." },
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void CoreOutcomes_AreExpected_AndShownAsWritten(Exception e, string shown)
    {
        Assert.True(UserErrors.IsExpected(e));
        Assert.Equal(shown, UserErrors.Message(e));
    }

    [Fact]
    public void ATransientDatabaseFailure_IsExpected_AndSaysTheDatabaseIsAway()
    {
        var dropped = new Npgsql.NpgsqlException("Exception while reading from stream", new System.IO.EndOfStreamException());
        Assert.True(UserErrors.IsExpected(dropped));
        Assert.Equal(UserErrors.Unavailable, UserErrors.Message(dropped));
    }

    [Fact]
    public void ABug_IsNotExpected_AndItsMessageIsNeverShown()
    {
        var bug = new InvalidOperationException("Sequence contains no elements at Foo.Bar() with secret=abc");
        Assert.False(UserErrors.IsExpected(bug));
        Assert.Equal(UserErrors.Unexpected, UserErrors.Message(bug));
        Assert.DoesNotContain("secret", UserErrors.Message(bug), StringComparison.Ordinal);
    }
}
