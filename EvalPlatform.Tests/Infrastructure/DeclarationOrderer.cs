using Xunit.Abstractions;
using Xunit.Sdk;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>Marks the step of a test in a journey whose steps build on each other.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OrderAttribute(int step) : Attribute
{
    public int Step { get; } = step;
}

/// <summary>Runs a class's tests by their <see cref="OrderAttribute"/>: for journeys over one database.</summary>
public sealed class DeclarationOrderer : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.GetCustomAttributes(typeof(OrderAttribute).AssemblyQualifiedName!)
            .FirstOrDefault()?.GetConstructorArguments().First() as int? ?? int.MaxValue);
}
