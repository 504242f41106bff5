using System.Data.Common;
using System.Runtime.CompilerServices;
using EvalPlatform.Core.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EvalPlatform.Data.Notifications;

/// <summary>
/// Notices outbox rows and in-app notifications in a save and tells the <see cref="INotificationCommitObserver"/>s once
/// they are committed: right after the save, or, inside an explicit transaction, after its commit (a rollback drops them).
/// </summary>
internal sealed class NotificationCommitInterceptor(IEnumerable<INotificationCommitObserver> observers) : SaveChangesInterceptor, IDbTransactionInterceptor
{
    private sealed class Pending
    {
        public bool Deliveries;
        public List<(Guid TeamId, string UserId)> InApp { get; } = [];
    }

    private readonly ConditionalWeakTable<DbContext, Pending> _saving = new();
    private readonly ConditionalWeakTable<DbContext, Pending> _inTransaction = new();

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Capture(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Capture(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Forget(eventData.Context);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    private void Capture(DbContext? context)
    {
        if (context is null)
        {
            return;
        }

        var pending = new Pending();
        foreach (var entry in context.ChangeTracker.Entries())
        {
            if (entry.State != EntityState.Added)
            {
                continue;
            }

            if (entry.Entity is NotificationDelivery)
            {
                pending.Deliveries = true;
            }
            else if (entry.Entity is InAppNotification n)
            {
                pending.InApp.Add((n.TeamId, n.UserId));
            }
        }

        if (pending.Deliveries || pending.InApp.Count > 0)
        {
            _saving.AddOrUpdate(context, pending);
        }
    }

    private void Saved(DbContext? context)
    {
        if (context is null || !_saving.TryGetValue(context, out var pending))
        {
            return;
        }

        _saving.Remove(context);
        if (context.Database.CurrentTransaction is not null)
        {
            var held = _inTransaction.GetOrCreateValue(context);
            held.Deliveries |= pending.Deliveries;
            held.InApp.AddRange(pending.InApp);
            return;
        }

        Tell(pending);
    }

    private void Forget(DbContext? context)
    {
        if (context is not null)
        {
            _saving.Remove(context);
        }
    }

    private void Tell(Pending pending)
    {
        foreach (var observer in observers)
        {
            observer.Committed(pending.Deliveries, pending.InApp);
        }
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(eventData.Context);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => RolledBack(eventData.Context);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        RolledBack(eventData.Context);
        return Task.CompletedTask;
    }

    private void Committed(DbContext? context)
    {
        if (context is not null && _inTransaction.TryGetValue(context, out var pending))
        {
            _inTransaction.Remove(context);
            Tell(pending);
        }
    }

    private void RolledBack(DbContext? context)
    {
        if (context is not null)
        {
            _inTransaction.Remove(context);
        }
    }
}
