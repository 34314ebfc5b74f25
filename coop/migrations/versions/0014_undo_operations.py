"""undo operations: interest runs reversed and run again, fiscal years reopened

An interest run may be reversed as a whole, and its period run again (a new attempt): the
run's period is unique per attempt. A closed year may be reopened by the admin: the close
row has a status, and every reopening keeps the close it undid in fiscal_year_reopening.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 15:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coop.db  # noqa: F401 - types such as coop.db.UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # fiscal_year_close first: on SQLite a batch alter copies the table, which a foreign key
    # from fiscal_year_reopening would forbid
    with op.batch_alter_table('fiscal_year_close', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), server_default='closed', nullable=False))
    op.create_table('fiscal_year_reopening',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('net_surplus_minor', sa.BigInteger(), nullable=False),
    sa.Column('closing_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reversal_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('closed_by', sa.String(length=32), nullable=False),
    sa.Column('closed_at', coop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reopened_by', sa.String(length=32), nullable=False),
    sa.Column('reopened_at', coop.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['closing_entry_id'], ['ledger_entry.id'], name=op.f('fk_fiscal_year_reopening_closing_entry_id_ledger_entry')),
    sa.ForeignKeyConstraint(['fiscal_year'], ['fiscal_year_close.fiscal_year'], name=op.f('fk_fiscal_year_reopening_fiscal_year_fiscal_year_close')),
    sa.ForeignKeyConstraint(['reversal_entry_id'], ['ledger_entry.id'], name=op.f('fk_fiscal_year_reopening_reversal_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fiscal_year_reopening'))
    )
    with op.batch_alter_table('fiscal_year_reopening', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fiscal_year_reopening_fiscal_year'), ['fiscal_year'], unique=False)
    with op.batch_alter_table('savings_interest_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('reversed_at', coop.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reversed_by', sa.String(length=32), nullable=True))
        batch_op.drop_constraint('uq_savings_interest_run_period', type_='unique')
        batch_op.create_unique_constraint('uq_savings_interest_run_period_attempt', ['period_start', 'period_end', 'attempt'])


def downgrade() -> None:
    with op.batch_alter_table('savings_interest_run', schema=None) as batch_op:
        batch_op.drop_constraint('uq_savings_interest_run_period_attempt', type_='unique')
        batch_op.create_unique_constraint('uq_savings_interest_run_period', ['period_start', 'period_end'])
        batch_op.drop_column('reversed_by')
        batch_op.drop_column('reversed_at')
        batch_op.drop_column('attempt')
    with op.batch_alter_table('fiscal_year_reopening', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fiscal_year_reopening_fiscal_year'))
    op.drop_table('fiscal_year_reopening')
    # a plain ALTER (SQLite 3.35+ and PostgreSQL): a batch copy would drop fiscal_year_close,
    # which the dividend declarations' foreign keys forbid
    op.execute("ALTER TABLE fiscal_year_close DROP COLUMN status")
