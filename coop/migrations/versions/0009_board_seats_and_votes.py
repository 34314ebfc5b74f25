"""board seats and votes: the board's own tables; loan_vote's rows move to board_vote

Every loan_vote row becomes a board_vote row with the same id (reschedule_id 0: the subject
('loan', loan_id); otherwise ('reschedule', reschedule_id)). Every enabled board user with a
member number gets a seat from the date she was created (in the society's time zone), or from
the business date if that is unknown. Then loan_vote is dropped. The downgrade moves the loan
and reschedule votes back (the board's seats, and votes on other subjects, are lost).

Revision ID: 0008_board
Revises: 0007
Create Date: 2026-12-06
"""
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import coop.db  # noqa: F401 - types such as coop.db.UTCDateTime
from coop.config import Settings

revision: str = '0008_board'
down_revision: str | None = '0008_dividend_minor'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VOTE_COLUMNS = ('id', 'voter_member_id', 'voter_username', 'decision', 'note', 'voted_at')
loan_vote = sa.table(
    'loan_vote', sa.column('id', sa.Integer), sa.column('loan_id', sa.Integer),
    sa.column('reschedule_id', sa.Integer), sa.column('voter_member_id', sa.Integer),
    sa.column('voter_username', sa.String), sa.column('decision', sa.String),
    sa.column('note', sa.String), sa.column('voted_at', coop.db.UTCDateTime(timezone=True)))
board_vote = sa.table(
    'board_vote', sa.column('id', sa.Integer), sa.column('subject_kind', sa.String),
    sa.column('subject_id', sa.BigInteger), sa.column('voter_member_id', sa.Integer),
    sa.column('voter_username', sa.String), sa.column('decision', sa.String),
    sa.column('note', sa.String), sa.column('voted_at', coop.db.UTCDateTime(timezone=True)))
board_seat = sa.table(
    'board_seat', sa.column('member_id', sa.Integer), sa.column('username', sa.String),
    sa.column('from_on', sa.Date), sa.column('to_on', sa.Date))
auth_user = sa.table(
    'auth_user', sa.column('username', sa.String), sa.column('role', sa.String),
    sa.column('member_code', sa.String), sa.column('disabled', sa.Boolean),
    sa.column('created_at', coop.db.UTCDateTime(timezone=True)))
member = sa.table('member', sa.column('id', sa.Integer), sa.column('code', sa.String))
loan_reschedule = sa.table(
    'loan_reschedule', sa.column('id', sa.Integer), sa.column('loan_id', sa.Integer))


def _create_tables() -> None:
    op.create_table('board_seat',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=32), nullable=False),
    sa.Column('from_on', sa.Date(), nullable=False),
    sa.Column('to_on', sa.Date(), nullable=True),
    sa.CheckConstraint('to_on IS NULL OR to_on >= from_on', name=op.f('ck_board_seat_seat_ends_after_start')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_board_seat_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_seat'))
    )
    with op.batch_alter_table('board_seat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_board_seat_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_seat_username'), ['username'], unique=False)

    op.create_table('board_vote',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject_kind', sa.String(length=24), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('voter_member_id', sa.Integer(), nullable=False),
    sa.Column('voter_username', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('voted_at', coop.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approve', 'reject')", name=op.f('ck_board_vote_decision_known')),
    sa.CheckConstraint("subject_kind IN ('loan', 'reschedule', 'dividend_declaration', 'correction', 'write_off', 'share_redemption')", name=op.f('ck_board_vote_subject_kind_known')),
    sa.ForeignKeyConstraint(['voter_member_id'], ['member.id'], name=op.f('fk_board_vote_voter_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_vote')),
    sa.UniqueConstraint('subject_kind', 'subject_id', 'voter_member_id', name='uq_board_vote_once')
    )


def _fix_sequence(table: str) -> None:
    """Rows were copied with their ids: PostgreSQL's sequence must continue after them."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))


def _copy_votes_up() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(loan_vote).order_by(loan_vote.c.id)).mappings().all()
    copies = [{**{name: row[name] for name in VOTE_COLUMNS},
               'subject_kind': 'reschedule' if row['reschedule_id'] else 'loan',
               'subject_id': row['reschedule_id'] or row['loan_id']} for row in rows]
    if copies:
        bind.execute(sa.insert(board_vote), copies)
    _fix_sequence('board_vote')


def _seat_board_users() -> None:
    settings = Settings.from_env()
    zone = ZoneInfo(settings.timezone)
    business_date = settings.clock().today()
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(member.c.id, auth_user.c.username, auth_user.c.created_at)
        .join(member, member.c.code == auth_user.c.member_code)
        .where(auth_user.c.role == 'board', auth_user.c.disabled.is_(False),
               auth_user.c.member_code.is_not(None))
        .order_by(auth_user.c.created_at, auth_user.c.username)).all()
    seats = [{'member_id': member_id, 'username': username,
              'from_on': _local_date(created_at, zone) or business_date, 'to_on': None}
             for member_id, username, created_at in rows]
    if seats:
        bind.execute(sa.insert(board_seat), seats)


def _local_date(instant: datetime | None, zone: ZoneInfo) -> date | None:
    return instant.astimezone(zone).date() if instant is not None else None


def upgrade() -> None:
    _create_tables()
    _copy_votes_up()
    _seat_board_users()
    op.drop_table('loan_vote')


def downgrade() -> None:
    op.create_table('loan_vote',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('reschedule_id', sa.Integer(), nullable=False),
    sa.Column('voter_member_id', sa.Integer(), nullable=False),
    sa.Column('voter_username', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('voted_at', coop.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approve', 'reject')", name=op.f('ck_loan_vote_decision_known')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_vote_loan_id_loan')),
    sa.ForeignKeyConstraint(['voter_member_id'], ['member.id'], name=op.f('fk_loan_vote_voter_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_vote')),
    sa.UniqueConstraint('loan_id', 'reschedule_id', 'voter_member_id', name='uq_loan_vote_once')
    )
    bind = op.get_bind()
    votes = bind.execute(
        sa.select(board_vote, loan_reschedule.c.loan_id.label('rescheduled_loan_id'))
        .outerjoin(loan_reschedule, sa.and_(board_vote.c.subject_kind == 'reschedule',
                                            loan_reschedule.c.id == board_vote.c.subject_id))
        .where(board_vote.c.subject_kind.in_(('loan', 'reschedule')))
        .order_by(board_vote.c.id)).mappings().all()
    copies = [{**{name: row[name] for name in VOTE_COLUMNS},
               'loan_id': row['subject_id'] if row['subject_kind'] == 'loan'
               else row['rescheduled_loan_id'],
               'reschedule_id': 0 if row['subject_kind'] == 'loan' else row['subject_id']}
              for row in votes]
    if copies:
        bind.execute(sa.insert(loan_vote), copies)
    _fix_sequence('loan_vote')
    op.drop_table('board_vote')
    with op.batch_alter_table('board_seat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_seat_username'))
        batch_op.drop_index(batch_op.f('ix_board_seat_member_id'))
    op.drop_table('board_seat')
