"""responder and worsening alert apart

One responder rule everywhere (CLINICAL.md, "Responder"): a patient whose latest follow-up
is at least 2 points and at least 30% below the baseline is "improved" even when the rating
is 2 points up on the one before (IMMPACT, Dworkin et al., J Pain 2008;9:105-121; Farrar et
al., Pain 2001;94:149-158). Until now "worse" won over "improved". The worsening alert
becomes a column of its own on the stored outcome and on each outcome point, and the rows
already stored are judged again from what they hold (the baseline is pain - change):

* worsening: 2 points or more above the baseline, or above the previous rating;
* status "improved" wherever the improvement rule holds; every other status was already
  what the rule gives (the rules are otherwise unchanged);
* each patient's outcome takes the status and alert of their current point.

A frozen copy of the rules (a migration gives the same result whatever the code becomes).
Downgrade puts "worse" back wherever the alert stands.

Revision ID: c8e2a4f6b0d1
Revises: b3d5f7a9c1e4
Created: 2026-12-05 22:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c8e2a4f6b0d1'
down_revision = 'b3d5f7a9c1e4'
branch_labels = None
depends_on = None

points = sa.table('outcome_points', sa.column('patient_id'), sa.column('pain'),
                  sa.column('previous'), sa.column('change'), sa.column('status'),
                  sa.column('next_at'), sa.column('worsening', sa.Boolean))
outcomes = sa.table('treatment_outcomes', sa.column('patient_id'), sa.column('status'),
                    sa.column('worsening', sa.Boolean))


def upgrade():
    with op.batch_alter_table('outcome_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worsening', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        # The clinic's figures count by status and alert from this index alone.
        batch_op.drop_index('ix_outcome_points_current')
        batch_op.create_index('ix_outcome_points_current',
                              ['status', 'first_improved', 'worsening'], unique=False,
                              postgresql_where=sa.text('next_at IS NULL'),
                              sqlite_where=sa.text('next_at IS NULL'))
    with op.batch_alter_table('treatment_outcomes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worsening', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_index('ix_treatment_outcomes_worsening', ['worsening', 'updated_at'],
                              unique=False)

    p = points.c
    op.execute(points.update()
               .where(sa.or_(p.change >= 2, sa.and_(p.previous.is_not(None),
                                                    p.pain - p.previous >= 2)))
               .values(worsening=sa.true()))
    # baseline - pain = -change, baseline = pain - change: at least 2 points and 30% down.
    op.execute(points.update()
               .where(p.change <= -2, -p.change * 100 >= (p.pain - p.change) * 30)
               .values(status='improved'))
    current = (sa.select(points).where(points.c.patient_id == outcomes.c.patient_id,
                                       points.c.next_at.is_(None)))
    op.execute(outcomes.update()
               .where(current.exists())
               .values(status=current.with_only_columns(points.c.status).scalar_subquery(),
                       worsening=current.with_only_columns(points.c.worsening)
                       .scalar_subquery()))


def downgrade():
    op.execute(points.update().where(points.c.worsening.is_(True)).values(status='worse'))
    op.execute(outcomes.update().where(outcomes.c.worsening.is_(True)).values(status='worse'))
    with op.batch_alter_table('treatment_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_outcomes_worsening')
        batch_op.drop_column('worsening')
    with op.batch_alter_table('outcome_points', schema=None) as batch_op:
        batch_op.drop_index('ix_outcome_points_current')
        batch_op.create_index('ix_outcome_points_current', ['status', 'first_improved'],
                              unique=False, postgresql_where=sa.text('next_at IS NULL'),
                              sqlite_where=sa.text('next_at IS NULL'))
        batch_op.drop_column('worsening')
