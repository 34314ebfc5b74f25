"""member search index and must_change_password

The blind indexes of members' known-as names and phones (coop.members.blind), and the flag
that sends a user whose password an admin set to the change-password page first.

The index cannot be filled here: its digests are keyed from the vault's master key, which a
migration never reads. `coop init`, `coop serve` and `coop reindex` fill it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'member_search_index',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_member_search_index_member_id_member')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_search_index')),
    )
    with op.batch_alter_table('member_search_index', schema=None) as batch_op:
        batch_op.create_index('ix_member_search_index_lookup', ['kind', 'digest', 'member_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_member_search_index_member_id'), ['member_id'],
                              unique=False)
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
    with op.batch_alter_table('member_search_index', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_search_index_member_id'))
        batch_op.drop_index('ix_member_search_index_lookup')
    op.drop_table('member_search_index')
